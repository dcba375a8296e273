// The canyu dashboard page: reads the JSON API with the filters in the address bar,
// draws the charts with Chart.js and prepends live posts and alerts from the SSE feed.
// With the admin token it also offers the item actions and the reporters download.
"use strict";

const FILTERS = ["since", "until", "source", "lang", "topic", "product", "version", "min_confidence"];
// "unsure": labels below the chosen min_confidence, counted apart.
const SENTIMENTS = ["negative", "neutral", "positive", "unsure"];
const COLORS = { negative: "#d9534f", neutral: "#9aa0a6", positive: "#2e9d5b", unsure: "#d0c9a8" };
const PALETTE = ["#0969da", "#bf8700", "#8250df", "#1a7f37", "#cf222e", "#6e7781", "#d4a72c", "#116329"];
const RELEASE_COLORS = { registered: "#cf222e", seen: "#8250df" };
const INTERVAL_MS = { m: 60e3, h: 3600e3, d: 86400e3 };
const EVIDENCE_SHOWN = 2;
const FEED_LENGTH = 30;
// New posts make the charts stale; redraw them at most this often while posts arrive.
const REFRESH_MS = 10000;

const $ = (id) => document.getElementById(id);
const charts = {};
let live = null;
let refreshTimer = null;
let isAdmin = false;

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

// Releases as vertical lines on the volume chart, at their date within its bars: solid for a
// registered release, dashed for one seen in posts. What it drew is in the canvas's data-releases.
function releaseMarkers(releases, firstBucket, interval) {
  const step = parseInt(interval, 10) * INTERVAL_MS[interval.slice(-1)];
  return {
    id: "releaseMarkers",
    afterDatasetsDraw(chart) {
      const { ctx, chartArea, scales: { x } } = chart;
      const bars = chart.data.labels.length;
      const width = bars > 1 ? x.getPixelForValue(1) - x.getPixelForValue(0) : chartArea.right - chartArea.left;
      const drawn = [];
      for (const release of releases) {
        const offset = (Date.parse(release.date) - firstBucket) / step;  // in bars from the first one's start
        if (!(offset >= 0 && offset < bars)) continue;
        const at = x.getPixelForValue(Math.floor(offset)) + (offset - Math.floor(offset) - 0.5) * width;
        const label = `${release.product} ${release.version}`;
        ctx.save();
        ctx.strokeStyle = ctx.fillStyle = RELEASE_COLORS[release.source];
        ctx.lineWidth = 2;
        ctx.setLineDash(release.source === "seen" ? [5, 4] : []);
        ctx.beginPath();
        ctx.moveTo(at, chartArea.top);
        ctx.lineTo(at, chartArea.bottom);
        ctx.stroke();
        // On a white band over the bars, so the label reads; close releases stagger their labels.
        const y = chartArea.top + 12 + 15 * (drawn.length % 3);
        ctx.font = "bold 11px system-ui, sans-serif";
        ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
        ctx.fillRect(at + 2, y - 11, ctx.measureText(label).width + 4, 14);
        ctx.fillStyle = RELEASE_COLORS[release.source];
        ctx.fillText(label, at + 4, y);
        ctx.restore();
        drawn.push(label);
      }
      chart.canvas.dataset.releases = JSON.stringify(drawn);
    },
  };
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

function drawSummary(s, releases) {
  $("total").textContent = s.total.toLocaleString();
  $("total").dataset.total = s.total;
  $("total").dataset.bySource = JSON.stringify(s.by_source);
  $("total").dataset.bySentiment = JSON.stringify(s.by_sentiment);

  const labels = s.volume.map((b) => bucketLabel(b.at, s.interval));
  const sources = Object.keys(s.by_source);
  const volume = stacked(labels, sources.map((src, i) => ({
    label: src, backgroundColor: PALETTE[i % PALETTE.length], data: s.volume.map((b) => b.by_source[src] || 0),
  })));
  if (s.volume.length) volume.plugins = [releaseMarkers(releases, Date.parse(s.volume[0].at), s.interval)];
  draw("volume", volume, s.total);

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

function when(at) {
  return at.slice(0, 16).replace("T", " ");
}

// "zh 5 · ko 3 · en 2", most first.
function perLanguage(languages) {
  return Object.entries(languages || {}).sort((a, b) => b[1] - a[1]).map(([lang, n]) => `${lang} ${n}`).join(" · ");
}

function statusBadge(status) {
  const badge = el("span", `badge status-${status}`, status.replace("_", " "));
  badge.dataset.status = status;
  return badge;
}

function itemHistory(changes) {
  const details = el("details", "history");
  details.append(el("summary", "", `history (${changes.length})`));
  const list = el("ol");
  for (const change of [...changes].reverse()) {  // newest first
    const what = change.action + (change.version ? ` ${change.version}` : "");
    const li = el("li", "", `${when(change.at)} · ${what}${change.by ? ` · by ${change.by}` : ""}`);
    if (change.note) li.append(el("div", "note", change.note));
    list.append(li);
  }
  details.append(changes.length ? list : el("p", "meta", "no change yet: acknowledge or fix it with the admin token"));
  return details;
}

// Admin only: change the item (through the API, which writes to items.lifecycle), or download who reported it.
function actions(item) {
  const details = el("details", "actions");
  details.append(el("summary", "", "change · reporters"));
  const form = el("form");
  const action = el("select");
  action.name = "action";
  for (const [value, text] of [["ack", "acknowledge"], ["fix", "fixed in…"], ["reopen", "reopen"], ["wontfix", "won't fix"]]) {
    action.add(new Option(text, value));
  }
  const version = el("input");
  Object.assign(version, { name: "version", placeholder: "version, e.g. 1.0.8.0", size: 14 });
  const note = el("input");
  Object.assign(note, { name: "note", placeholder: "note (optional)", size: 24, maxLength: 2000 });
  const said = el("output", "said");
  form.append(action, " ", version, " ", note, " ", el("button", "", "apply"), " ", said);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    changeItem(item.id, { action: action.value, version: version.value.trim() || null, note: note.value.trim() || null }, said);
  });
  const downloads = el("p", "meta", "reporters: ");
  for (const format of ["csv", "jsonl"]) {
    const link = el("a", "", format.toUpperCase());
    link.href = `/api/items/${encodeURIComponent(item.id)}/reporters?format=${format}`;
    link.download = `reporters-${item.id}.${format}`;
    downloads.append(link, " ");
  }
  details.append(form, downloads);
  return details;
}

async function changeItem(id, change, said) {
  const response = await fetch(`/api/items/${encodeURIComponent(id)}/changes`, {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: JSON.stringify(change),
  });
  const body = await response.json();
  said.className = response.ok ? "said" : "said refused";
  // The worker applies the change to the item; until then the panel shows the item as it was.
  said.textContent = response.ok ? `sent: now ${body.state}${body.fixed_in ? ` in ${body.fixed_in}` : ""}; shown once the worker applies it`
    : (typeof body.detail === "string" ? body.detail : body.detail.map((d) => d.msg).join("; "));
}

function feedbackItem(item) {
  const li = el("li");
  li.dataset.id = item.id;
  li.dataset.status = item.status;
  li.append(statusBadge(item.status), " ", item.title.slice(0, 140), trendBars(item.trend));
  li.append(el("div", "meta",
    `${item.intent.replace("_", " ")} · ${item.count} posts by ${item.unique_authors} people · ` +
    `${[item.product, item.topic].filter(Boolean).join(" · ")} · last seen ${item.last_seen.slice(0, 10)}` +
    (item.fixed_in ? ` · fixed in ${item.fixed_in}` : "")));
  const languages = perLanguage(item.languages);
  if (languages) li.append(el("div", "meta languages", `posts per language: ${languages}`));
  li.append(itemHistory(item.history || []));
  if (isAdmin) li.append(actions(item));
  return li;
}

function fillLists(topPosts, cascades, feedback) {
  $("top-posts").replaceChildren(...topPosts.map((p) => postItem(p, engagement(p))));
  $("top-cascades").replaceChildren(...cascades.map(({ cascade: c, post }) =>
    postItem(post, `${c.velocity} reposts / 10 min · ${c.reposts} reposts in all · depth ${c.depth} · reach ${c.reach}`)));
  $("feedback").replaceChildren(...feedback.map(feedbackItem));
  if (!feedback.length) $("feedback").append(el("p", "empty", "No feedback items in view: they form as bug reports and feature requests about the same thing arrive."));
}

function percent(share) {
  return `${Math.round(share * 100)}%`;
}

function signed(share) {
  const points = Math.round(share * 100);
  return `${points > 0 ? "+" : points < 0 ? "−" : "±"}${Math.abs(points)}`;
}

// "22% (15–31%) of 120 posts"
function shareText(share) {
  if (share.share === null || share.share === undefined) return "no posts";
  return `${percent(share.share)} (${percent(share.low)}–${percent(share.high)}) of ${share.total} posts`;
}

function negativeShare(release) {
  const text = `Negative posts about ${release.product}: ${shareText(release.negative_before)} before → ` +
    `${shareText(release.negative_after)} after` +
    (release.negative_change === null || release.negative_change === undefined ? "" :
      ` · change ${signed(release.negative_change)} points (95% CI ${signed(release.negative_change_low)} to ` +
      `${signed(release.negative_change_high)})`);
  return el("p", "share", text);
}

function evidence(post) {
  const li = el("li", "evidence", post.text);
  li.lang = post.language || "";
  li.append(el("span", "meta", ` — ${when(post.created_at)}${post.language ? ` · ${post.language}` : ""}` +
    (post.versions.length ? ` · ${post.versions.join(", ")}` : "")));
  return li;
}

function impactItem(item, release) {
  const li = el("li");
  li.dataset.id = item.item_id;
  li.append(statusBadge(item.status), " ", item.title.slice(0, 140));
  const facts = [`${item.before} → ${item.after} reports`];
  if (item.opened_after) facts.push("new after it");
  if (item.version_share !== null && item.version_share !== undefined) {
    facts.push(`${percent(item.version_share)} name ${release.version}`);
  }
  const languages = perLanguage(item.languages);
  if (languages) facts.push(languages);
  li.append(el("div", "meta", facts.join(" · ")));
  if (item.evidence.length) {
    const quotes = el("ul");
    quotes.append(...item.evidence.slice(0, EVIDENCE_SHOWN).map(evidence));
    li.append(quotes);
  }
  return li;
}

const IMPACT_LISTS = [
  ["regressions", "Regressions", "none: no item opened after it or jumped in daily reports"],
  ["quieted", "Quieted", "none: no item reported before it went quiet after it"],
  ["persisting", "Persisting", "none: no item reported before it is still reported after it"],
];

function releaseCard(release) {
  const card = el("article", `release ${release.source}`);
  card.dataset.key = release.id;
  const title = el("h3", "", `${release.product} ${release.version}`);
  const meta = el("span", "meta", ` ${release.date.slice(0, 10)} · ${release.source === "seen" ? "seen in posts" : "registered"} · ` +
    `${release.window_days} days before and after · as of ${when(release.observed_until)}`);
  title.append(meta);
  const notes = release.notes_url ? safeHref(release.notes_url) : null;
  if (notes) {
    const link = el("a", "", "release notes");
    link.href = notes;
    link.rel = "noopener noreferrer";
    title.append(" · ", link);
  }
  const lists = el("div", "impact");
  for (const [name, heading, none] of IMPACT_LISTS) {
    const column = el("section", name);
    column.append(el("h4", "", `${heading} (${release[name].length})`));
    const list = el("ol", "posts");
    list.append(...release[name].map((item) => impactItem(item, release)));
    column.append(release[name].length ? list : el("p", "empty", none));
    lists.append(column);
  }
  card.append(title, negativeShare(release), lists);
  return card;
}

function fillReleases(releases) {
  $("releases").replaceChildren(...releases.map(releaseCard));
  if (!releases.length) {
    const empty = el("p", "empty", "No release in this time range. Register one with ");
    empty.append(el("code", "", "canyu release add PRODUCT VERSION --date …"),
      ", or it shows here once several people name a new version within a day.");
    $("releases").append(empty);
  }
}

async function refresh() {
  try {
    const [summary, topPosts, cascades, feedback, releases] = await Promise.all(
      ["/api/summary", "/api/top-posts", "/api/top-cascades", "/api/feedback", "/api/releases"].map(getJSON));
    drawSummary(summary, releases);
    fillLists(topPosts, cascades, feedback);
    fillReleases(releases);
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

async function start() {
  // The token came in the address once; the server keeps it in a cookie, so shared links do not carry it.
  const page = new URLSearchParams(location.search);
  if (page.has("token")) {
    page.delete("token");
    history.replaceState(null, "", page.toString() ? `?${page}` : location.pathname);
  }
  for (const name of ["since", "min_confidence"]) choose(document.querySelector(`select[name=${name}]`), page.get(name) || "");
  $("filters").addEventListener("change", onFilterChange);
  try {
    isAdmin = (await getJSON("/api/access")).admin;
  } catch (error) {
    showError(error);
  }
  refresh();
  connectLive();
}

document.addEventListener("DOMContentLoaded", start);
