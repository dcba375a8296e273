"""The dashboard page in headless Chromium over a seeded namespace, with the real pipeline behind its live feed.

Its screenshots (the page, and the Releases panel with its Chinese, Korean and English text) land in the
test's tmp_path; docs/dashboard.md gives the command that keeps them where you can open them.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime, timezone

import pytest
from kafka import KafkaProducer
from playwright.sync_api import expect, sync_playwright

from canyu import topics
from canyu.schema import Author, Post
from canyu_runtime.elastic import client
from dashboard.auth import with_tokens
from tests.integration.chromium import healthy, launch, needs_chromium
from tests.integration.conftest import free_port, read_topic, running, wait_for
from tests.integration.dashboard.corpus import (
    FASTEST_CASCADES,
    NEWEST_RELEASES,
    POSTS,
    REGRESSION,
    REGRESSION_TEXTS,
    REPORTED_ITEM,
    SHOWN_FEEDBACK,
    seed,
)

# Sums of every dataset of every chart, by dataset label: what the page actually drew.
CHART_SUMS = """() => Object.fromEntries(["volume", "sentiment", "topics", "products"].map((id) => [id,
  Object.fromEntries(Chart.getChart(document.getElementById(id)).data.datasets.map(
    (d) => [d.label, d.data.reduce((a, b) => a + b, 0)]))]))"""

pytestmark = [pytest.mark.timeout(240), needs_chromium]


def publish_raw(settings, post: Post) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    try:
        topic = settings.topic(topics.POSTS_RAW)
        producer.send(topic, key=post.id.encode(), value=post.model_dump_json().encode()).get(timeout=30)
    finally:
        producer.close()


def test_the_page_draws_the_seeded_totals_filters_by_url_and_shows_a_new_post_live(ns, tmp_path, monkeypatch):
    settings = with_tokens(ns.replace(dashboard_port=free_port()))
    with client(settings) as es:
        seed(es, settings)
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    # The feed is under test, not the classifier: the lexicon baseline needs no trained files and starts fast.
    monkeypatch.setenv("CANYU_CLASSIFIER", "lexicon")
    base = f"http://127.0.0.1:{settings.dashboard.port}"

    with (
        running("worker", settings, tmp_path),
        running("sink", settings, tmp_path),
        running("dashboard", settings, tmp_path),
        sync_playwright() as playwright,
    ):
        wait_for(lambda: healthy(base), timeout=60, what="the dashboard's /health")
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        refused: list[str] = []  # the page asks for nothing it cannot have
        page.on("response", lambda response: response.status >= 400 and refused.append(response.url))
        page.goto(f"{base}/?token={settings.dashboard.token}")
        expect(page.locator("body[data-loaded=true]")).to_be_attached(timeout=20_000)

        assert "token" not in page.url, "the token stays out of the address that people share"
        assert f"{base}/vendor/chart.js/chart.umd.min.js" in requested
        assert all(url.startswith(base) for url in requested), "the page loads nothing from another host"
        assert page.locator("#total").get_attribute("data-total") == str(len(POSTS))
        sums = page.evaluate(CHART_SUMS)
        assert sums["volume"] == Counter(p.source for p in POSTS)
        assert sums["sentiment"] == Counter(p.sentiment.label for p in POSTS)
        assert sums["topics"] == Counter(p.sentiment.label for p in POSTS)  # one topic per seeded post
        assert sums["products"] == Counter(p.sentiment.label for p in POSTS for _ in p.products)
        assert page.locator("#top-posts li").count() == 10
        assert page.locator("#top-posts li a[href^='https://']").count() == 10
        assert page.locator("#top-cascades li").evaluate_all("els => els.map(e => e.dataset.id)") == FASTEST_CASCADES
        assert page.locator("#feedback > li").evaluate_all("els => els.map(e => e.dataset.id)") == SHOWN_FEEDBACK
        expect(page.locator('#live li[data-id="alert-battery"]')).to_be_attached()
        assert page.locator("#feedback .actions").count() == 0, "the read-only token is offered no item actions"

        # The release loop: each release a marker on the volume chart, and its impact in the Releases panel.
        assert json.loads(page.locator("#volume").get_attribute("data-releases")) == [
            key.replace("|", " ") for key in NEWEST_RELEASES
        ]
        assert page.locator("#releases article").evaluate_all("els => els.map(e => e.dataset.key)") == NEWEST_RELEASES
        regression = page.locator(f'#releases article >> nth=0 >> .regressions li[data-id="{REGRESSION.item_id}"]')
        for text in REGRESSION_TEXTS:  # Chinese, Korean and English, as the posts were written
            expect(regression).to_contain_text(text)
        expect(regression).to_contain_text("75% name 1.0.7.0")
        expect(page.locator("#releases article >> nth=0 >> .share")).to_contain_text(
            "20% (12%–32%) of 60 posts before → 40% (30%–51%) of 75 posts after · change +20 points (95% CI +5 to +34)"
        )
        expect(page.locator("#releases article >> nth=1 >> .regressions")).to_contain_text("none")
        page.locator("#releases").screenshot(path=tmp_path / "releases.png")

        # The admin token's page offers the item actions and the reporters download.
        admin = browser.new_context(viewport={"width": 1400, "height": 1000})
        admin_page = admin.new_page()
        admin_page.goto(f"{base}/?token={settings.dashboard.admin_token}")
        expect(admin_page.locator("body[data-loaded=true]")).to_be_attached(timeout=20_000)
        assert admin_page.locator("#feedback > li > .actions").count() == len(SHOWN_FEEDBACK)
        link = admin_page.locator(f'#feedback > li[data-id="{REPORTED_ITEM}"] .actions a').first.get_attribute("href")
        download = admin_page.request.get(base + link)
        assert download.ok and download.text().startswith("post_id,url,source,language,created_at")
        assert len(download.text().splitlines()) == 1 + sum(p.item_id == REPORTED_ITEM for p in POSTS)
        admin.close()

        forum = sum(p.source == "forum" for p in POSTS)
        page.select_option("select[name=source]", "forum")
        expect(page.locator("#total")).to_have_attribute("data-total", str(forum))
        assert "source=forum" in page.url
        shared = context.new_page()  # the same view from its address, in the same browser (token cookie)
        shared.goto(page.url)
        expect(shared.locator("#total")).to_have_attribute("data-total", str(forum))
        assert shared.locator("select[name=source]").input_value() == "forum"
        stranger = browser.new_page()  # another browser without the token is asked for it
        assert stranger.goto(page.url).status == 401
        page.goto(base)

        expect(page.locator("body[data-loaded=true]")).to_be_attached(timeout=20_000)
        post = Post(id=f"forum:live-{uuid.uuid4().hex[:8]}", source="forum", author=Author(id="live-tester"),
                    text="live feed check: the battery of my phone-x1 lasts two days, great",
                    url="https://forum.example/t/live", created_at=datetime.now(timezone.utc))  # fmt: skip
        publish_raw(settings, post)
        # Generous for a cold Faust worker on a busy machine; once it runs this takes a few seconds.
        newest = page.locator("#live li").first
        try:
            expect(newest).to_have_attribute("data-id", post.id, timeout=90_000)
        except AssertionError as e:  # say which stage lost it: the worker, the sink, or the page
            enriched = [
                r for r in read_topic(settings, settings.topic(topics.POSTS_ENRICHED)) if r.key == post.id.encode()
            ]
            with client(settings) as es:
                indexed = es.count(index=settings.posts_alias, query={"term": {"id": post.id}})["count"]
            raise AssertionError(f"not in the live feed; on posts.enriched: {len(enriched)}, indexed: {indexed}") from e
        assert "lasts two days" in newest.inner_text()
        assert not refused, f"requests answered with an error: {refused}"
        assert f"{base}/static/favicon.svg" in requested, "the tab shows canyu's icon"
        # A javascript: link never gets this far: the contract refuses it (tests/unit/canyu/test_schema.py).
        assert newest.locator("a").get_attribute("href") == post.url
        assert "script-src 'self'" in page.request.get(base).headers["content-security-policy"]

        page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
        browser.close()
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
