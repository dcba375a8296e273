// The canyu dashboard page: reads the JSON API with the filters in the address bar,
// draws the charts with Chart.js and prepends live posts and alerts from the SSE feed.
"use strict";

const FILTERS = ["since", "until", "source", "lang", "topic", "product", "min_confidence"];
// "unsure": labels below the chosen min_confidence, counted apart.
const SENTIMENTS = ["negative", "neutral", "positive", "unsure"];
const COLORS = { negative: "#d9534f", neutral: "#9aa0a6", positive: "#2e9d5b", unsure: "#d0c9a8" };
const PALETTE = ["#0969da", "#bf8700", "#8250df", "#1a7f37", "#cf222e", "#6e7781", "#d4a72c", "#116329"];
const FEED_LENGTH = 30;
// New posts make the charts stale; redraw them at most this often while posts arrive.
const REFRESH_MS = 10000;

const $ = (id) => document.getElementById(id);
const charts = {};
let live = null;
let refreshTimer = null;

function filterQuery() {
  const page = new URLSearchParams(location.search);
  const query = new URLSearchParams();
  for (const name of FILTERS) if (page.get(name)) query.set(name, page.get(name));
  return query;
}

async function getJSON(path) {
  const response = await fetch(`${path}?${filterQuery()}`, { credentials: "same-origin" });
  const body = await response.json();
  if (!response.ok) throw new Error(`${path}: ${JSON.stringify(body.detail)}`);
  return body;
}

function showError(error) {
  $("error").hidden = !error;
  $("error").textContent = error ? String(error.message || error) : "";
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function draw(id, config, total) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(id), config);
  $(id).dataset.total = total;
}

function stacked(labels, datasets, horizontal) {
  // Time buckets may skip labels; every topic or product keeps its name.
  const category = { stacked: true, ticks: { autoSkip: !horizontal } };
  const value = { stacked: true, beginAtZero: true, ticks: { precision: 0 } };
  return {
    type: "bar",
    data: { labels, datasets },
    options: {
      animation: false, indexAxis: horizontal ? "y" : "x", maintainAspectRatio: false,
      scales: horizontal ? { x: value, y: category } : { x: category, y: value },
      plugins: { legend: { position: "bottom" } },
    },
  };
}

function bucketLabel(at, interval) {
  const iso = new Date(at).toISOString();
  return /[smh]$/.test(interval || "") ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
}

function drawSummary(s) {
  $("total").textContent = s.total.toLocaleString();
  $("total").dataset.total = s.total;
  $("total").dataset.bySource = JSON.stringify(s.by_source);
  $("total").dataset.bySentiment = JSON.stringify(s.by_sentiment);

  const labels = s.volume.map((b) => bucketLabel(b.at, s.interval));
  const sources = Object.keys(s.by_source);
  draw("volume", stacked(labels, sources.map((src, i) => ({
    label: src, backgroundColor: PALETTE[i % PALETTE.length], data: s.volume.map((b) => b.by_source[src] || 0),
  }))), s.total);

  // "unsure" is drawn only when a minimum confidence is chosen.
  const sentiments = filterQuery().has("min_confidence") ? SENTIMENTS : SENTIMENTS.filter((l) => l !== "unsure");
  draw("sentiment", {
    type: "line",
    data: { labels, datasets: sentiments.map((label) => ({
      label, borderColor: COLORS[label], backgroundColor: COLORS[label] + "55", fill: true, pointRadius: 0,
      data: s.volume.map((b) => b.by_sentiment[label] || 0),
    })) },
    options: { animation: false, maintainAspectRatio: false,
               scales: { y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
               plugins: { legend: { position: "bottom" } } },
  }, s.total);

  for (const [id, terms] of [["topics", s.topics], ["products", s.products]]) {
    draw(id, stacked(terms.map((t) => t.id), sentiments.map((label) => ({
      label, backgroundColor: COLORS[label], data: terms.map((t) => t.by_sentiment[label] || 0),
    })), true), terms.reduce((sum, t) => sum + t.total, 0));
  }
  fillOptions(s.options);
}

// A value from a shared address stays selected even when the menu does not list it.
function choose(select, value) {
  if (value && ![...select.options].some((option) => option.value === value)) select.add(new Option(value, value));
  select.value = value;
}

function fillOptions(options) {
  const page = new URLSearchParams(location.search);
  for (const [name, values] of Object.entries(options)) {
    const select = document.querySelector(`select[name=${name}]`);
    select.replaceChildren(new Option("all", ""), ...values.map((v) => new Option(v, v)));
    choose(select, page.get(name) || "");
  }
}

// Only http(s) links: a feed can carry javascript: or data: addresses.
function safeHref(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function postItem(post, extra) {
  const li = el("li");
  li.dataset.id = post.id;
  const text = (post.title ? `${post.title} · ` : "") + post.text;
  const href = post.url ? safeHref(post.url) : null;
  const link = href ? el("a", "", text.slice(0, 160)) : el("span", "", text.slice(0, 160));
  if (href) {
    link.href = href;
    link.rel = "noopener noreferrer";
  }
  const meta = el("div", "meta",
    `${post.created_at.slice(0, 16).replace("T", " ")} · ${post.source} · ${post.language} · ${post.author.name || post.author.id}` +
    (extra ? ` · ${extra}` : ""));
  const badge = el("span", `badge ${post.sentiment.label}`, post.sentiment.label);
  li.append(badge, " ", link, meta);
  return li;
}

function engagement(post) {
  const e = post.engagement;
  return `${e.likes ?? "–"} likes · ${e.reposts ?? "–"} reposts · ${e.comments ?? "–"} comments`;
}

function trendBars(trend) {
  const days = Object.keys(trend).sort().slice(-14);
  const peak = Math.max(1, ...days.map((d) => trend[d]));
  const bars = el("span", "trend");
  bars.title = days.map((d) => `${d}: ${trend[d]}`).join("\n");
  for (const d of days) {
    const bar = el("i");
    bar.style.height = `${Math.max(1, (16 * trend[d]) / peak)}px`;
    bars.append(bar);
  }
  return bars;
}

function fillLists(topPosts, cascades, feedback) {
  $("top-posts").replaceChildren(...topPosts.map((p) => postItem(p, engagement(p))));
  $("top-cascades").replaceChildren(...cascades.map(({ cascade: c, post }) =>
    postItem(post, `${c.velocity} reposts / 10 min · ${c.reposts} reposts in all · depth ${c.depth} · reach ${c.reach}`)));
  $("feedback").replaceChildren(...feedback.map((item) => {
    const li = el("li", "", item.title.slice(0, 140));
    li.dataset.id = item.id;
    li.append(trendBars(item.trend), el("div", "meta",
      `${item.intent.replace("_", " ")} · ${item.count} posts by ${item.unique_authors} people · ` +
      `${[item.product, item.topic].filter(Boolean).join(" · ")} · last seen ${item.last_seen.slice(0, 10)}`));
    return li;
  }));
}

async function refresh() {
  try {
    const [summary, topPosts, cascades, feedback] = await Promise.all(
      ["/api/summary", "/api/top-posts", "/api/top-cascades", "/api/feedback"].map(getJSON));
    drawSummary(summary);
    fillLists(topPosts, cascades, feedback);
    document.body.dataset.loaded = "true";
    showError(null);
  } catch (error) {
    showError(error);
  }
}

function prepend(item) {
  $("live").prepend(item);
  while ($("live").children.length > FEED_LENGTH) $("live").lastChild.remove();
}

function alertItem(alert) {
  const li = el("li", "alert", `⚠ ${alert.kind}: ${alert.key} — ${alert.observed} (threshold ${alert.threshold.toFixed(1)})`);
  li.dataset.id = alert.id;
  li.append(el("div", "meta", `${alert.window_start.slice(0, 16).replace("T", " ")} → ${alert.window_end.slice(11, 16)}`));
  return li;
}

function connectLive() {
  if (live) live.close();
  $("live").replaceChildren();
  live = new EventSource(`/api/live?${filterQuery()}`, { withCredentials: true });
  live.onopen = () => { $("live-status").textContent = "● live"; $("live-status").className = "status on"; };
  live.onerror = () => { $("live-status").textContent = "reconnecting…"; $("live-status").className = "status"; };
  live.addEventListener("post", (event) => {
    prepend(postItem(JSON.parse(event.data)));
    if (document.body.dataset.loaded && !refreshTimer) {
      refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, REFRESH_MS);
    }
  });
  live.addEventListener("alert", (event) => prepend(alertItem(JSON.parse(event.data))));
}

function onFilterChange(event) {
  const page = new URLSearchParams(location.search);
  if (event.target.value) page.set(event.target.name, event.target.value);
  else page.delete(event.target.name);
  history.replaceState(null, "", `?${page}`);
  refresh();
  connectLive();
}

function start() {
  // The token came in the address once; the server keeps it in a cookie, so shared links do not carry it.
  const page = new URLSearchParams(location.search);
  if (page.has("token")) {
    page.delete("token");
    history.replaceState(null, "", page.toString() ? `?${page}` : location.pathname);
  }
  for (const name of ["since", "min_confidence"]) choose(document.querySelector(`select[name=${name}]`), page.get(name) || "");
  $("filters").addEventListener("change", onFilterChange);
  refresh();
  connectLive();
}

document.addEventListener("DOMContentLoaded", start);
