"""A small, exact corpus for the dashboard tests, written straight into a namespace's indices.

Every count the dashboard should show can be computed from these lists, so the tests
compare what the API and the page show with Python's own count.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from elasticsearch import Elasticsearch, helpers

from canyu.schema import (
    Alert,
    Author,
    Cascade,
    Engagement,
    EnrichedPost,
    Evidence,
    FeedbackItem,
    ImpactItem,
    ItemChange,
    LabelScores,
    ReleaseImpact,
    Share,
    TopicScore,
    VersionMention,
)
from canyu.settings import Settings

START = datetime(2026, 11, 10, 8, tzinfo=timezone.utc)
SOURCES = ("microblog", "forum", "microblog")
LANGUAGES = ("zh", "en", "ko", "zh")
SENTIMENTS = ("negative", "neutral", "positive", "negative", "positive")
TOPICS = ("battery", "camera", "screen")
PRODUCTS = ("phone-x1", "phone-x2")
REPORTED_ITEM = "fb-battery"  # every fifth post was grouped into it: its reporters


def _versions(n: int) -> list[VersionMention]:
    if n % 3 == 0:
        return [VersionMention(line="hyperos", version="1.0.7.0", product="phone-x1")]
    if n % 4 == 1:
        return [VersionMention(line="hyperos", version="1.0.6.0"), VersionMention(line="app", version="3.2.1")]
    return []


def _post(n: int) -> EnrichedPost:
    source = SOURCES[n % len(SOURCES)]
    return EnrichedPost(
        id=f"{source}:{1000 + n}",
        source=source,
        url=f"https://{source}.example/{1000 + n}",
        text=f"dashboard seed post {n} about the {TOPICS[n % 3]}",
        language=LANGUAGES[n % len(LANGUAGES)],
        created_at=START + timedelta(hours=7 * n),
        author=Author(id=f"a{n % 9}", name=f"author {n % 9}", followers=100 * n),
        engagement=Engagement(likes=(n * 37) % 101, reposts=n % 7, comments=n % 5),
        # Confidences 0.05, 0.15, ... 0.95 in turn, for min_confidence.
        sentiment=LabelScores(
            label=SENTIMENTS[n % len(SENTIMENTS)], scores={SENTIMENTS[n % len(SENTIMENTS)]: (n % 10) / 10 + 0.05}
        ),
        intent=LabelScores(label="other", scores={}),
        topics=[TopicScore(id=TOPICS[n % 3], score=0.9)],
        products=[PRODUCTS[n % 2]] if n % 4 else [],
        versions=_versions(n),
        item_id=REPORTED_ITEM if n % 5 == 0 else None,
        classifier="seed",
        fetched_at=START + timedelta(days=15),
        enriched_at=START + timedelta(days=15, seconds=n),
    )


POSTS = [_post(n) for n in range(40)]


def _change(action: str, day: int, version: str | None = None, note: str | None = None, by: str = "cli") -> ItemChange:
    return ItemChange(action=action, at=START + timedelta(days=day), version=version, note=note, by=by)


FEEDBACK = [
    FeedbackItem(id="fb-battery", title="battery drains overnight", intent="bug_report", product="phone-x1",
                 topic="battery", count=12, unique_authors=9, first_seen=START, last_seen=START + timedelta(days=9),
                 trend={"2026-11-10": 3, "2026-11-11": 4, "2026-11-12": 5}, languages={"zh": 6, "ko": 4, "en": 2},
                 status="acknowledged", history=[_change("ack", 2, note="seen on the x1 only")]),
    FeedbackItem(id="fb-wifi", title="升级后WiFi频繁断连 · 업데이트 후 와이파이 끊김 · Wi-Fi drops after the update",
                 intent="bug_report", product="phone-x1", topic="network", count=8, unique_authors=8,
                 first_seen=START + timedelta(days=5, hours=2), last_seen=START + timedelta(days=8),
                 trend={"2026-11-15": 5, "2026-11-16": 3}, languages={"zh": 3, "ko": 3, "en": 2},
                 versions={"hyperos 1.0.7.0": 6}, status="fixed", fixed_in="1.0.8.0",
                 history=[_change("ack", 6), _change("fix", 7, "1.0.8.0", "driver rolled back", by="dashboard")]),
    FeedbackItem(id="fb-camera", title="add a night mode to the camera", intent="feature_request", product="phone-x2",
                 topic="camera", count=5, unique_authors=5, first_seen=START, last_seen=START + timedelta(days=8),
                 trend={"2026-11-15": 2, "2026-11-16": 3}, languages={"en": 5}),
    FeedbackItem(id="fb-nfc", title="NFC payments fail", intent="bug_report", product="phone-x1", topic="payments",
                 count=4, unique_authors=4, first_seen=START, last_seen=START + timedelta(days=4), status="verified",
                 fixed_in="1.0.7.0", history=[_change("fix", 3, "1.0.7.0"), _change("verified", 9, by="canyu")]),
    FeedbackItem(id="fb-closed", title="screen flickers (fixed)", intent="bug_report", product="phone-x1",
                 topic="screen", count=30, unique_authors=20, first_seen=START, last_seen=START + timedelta(days=3),
                 status="closed"),
]  # fmt: skip
SHOWN_FEEDBACK = ["fb-battery", "fb-wifi", "fb-camera", "fb-nfc"]  # still tracked, largest first

RELEASE_DAY = START + timedelta(days=4, hours=16)  # 2026-11-15 00:00 UTC, inside the posts' span
REGRESSION = ImpactItem(
    item_id="fb-wifi", title=FEEDBACK[1].title, intent="bug_report", product="phone-x1", topic="network", before=0,
    after=8, first_seen=FEEDBACK[1].first_seen, opened_after=True, version_share=0.75,
    languages={"zh": 3, "ko": 3, "en": 2}, status="fixed",
    evidence=[
        Evidence(post_id="microblog:wifi-1", text="升级到1.0.7.0后WiFi一直断连，重启也没用", language="zh",
                 created_at=RELEASE_DAY + timedelta(hours=3), versions=["hyperos 1.0.7.0"]),
        Evidence(post_id="forum:wifi-2", text="1.0.7.0 업데이트 후 와이파이가 계속 끊겨요", language="ko",
                 created_at=RELEASE_DAY + timedelta(hours=5), versions=["hyperos 1.0.7.0"]),
        Evidence(post_id="forum:wifi-3", text="Wi-Fi keeps dropping since the 1.0.7.0 update", language="en",
                 created_at=RELEASE_DAY + timedelta(hours=9), versions=["hyperos 1.0.7.0"]),
    ],
)  # fmt: skip
# The evidence the page shows first: its regression in Chinese, Korean and English.
REGRESSION_TEXTS = [e.text for e in REGRESSION.evidence[:2]] + [REGRESSION.title.split(" · ")[2]]
RELEASES = [
    ReleaseImpact(
        id="hyperos|1.0.7.0", product="hyperos", version="1.0.7.0", date=RELEASE_DAY, source="registered",
        notes_url="https://release-notes.example/hyperos-1.0.7.0", window_days=7,
        observed_until=START + timedelta(days=11), regressions=[REGRESSION],
        quieted=[ImpactItem(item_id="fb-nfc", title="NFC payments fail", intent="bug_report", before=4, after=0,
                            first_seen=START, opened_after=False, languages={"zh": 4}, status="verified")],
        persisting=[ImpactItem(item_id="fb-battery", title="battery drains overnight", intent="bug_report", before=5,
                               after=6, first_seen=START, opened_after=False, version_share=0.5,
                               languages={"zh": 6, "ko": 4, "en": 2}, status="acknowledged")],
        negative_before=Share(count=12, total=60, share=0.2, low=0.118, high=0.318),
        negative_after=Share(count=30, total=75, share=0.4, low=0.297, high=0.512),
        negative_change=0.2, negative_change_low=0.05, negative_change_high=0.34,
    ),
    ReleaseImpact(
        id="hyperos|1.0.6.0", product="hyperos", version="1.0.6.0", date=START + timedelta(days=2), source="seen",
        window_days=7, observed_until=START + timedelta(days=11),
        negative_before=Share(count=0, total=0),
        negative_after=Share(count=3, total=10, share=0.3, low=0.108, high=0.603),
    ),
]  # fmt: skip
NEWEST_RELEASES = ["hyperos|1.0.7.0", "hyperos|1.0.6.0"]

CASCADES = [
    Cascade(root_id=POSTS[5].id, reposts=40, depth=3, reach=90000, velocity=12.0, first_seen=START),
    Cascade(root_id=POSTS[8].id, reposts=80, depth=2, reach=5000, velocity=30.0, first_seen=START),
    Cascade(root_id="microblog:not-indexed", reposts=99, depth=1, reach=10, velocity=99.0, first_seen=START),
]
FASTEST_CASCADES = [POSTS[8].id, POSTS[5].id]  # the root that is not indexed is left out

ALERTS = [
    Alert(id="alert-battery", kind="spike", key="topic=battery|sentiment=negative",
          dimensions={"topic": "battery", "sentiment": "negative"}, window_start=START,
          window_end=START + timedelta(hours=1), observed=14, baseline_mean=2, baseline_std=1.5, threshold=8.5),
]  # fmt: skip


def _write_index(es: Elasticsearch, alias: str) -> str:
    """An index behind ``alias`` to write to, whatever the index layout names it."""
    return sorted(es.indices.get_alias(name=alias).body)[-1]


def seed(es: Elasticsearch, settings: Settings) -> None:
    """Index the corpus into the namespace's indices (made by ``canyu_runtime.migrations.migrate``) and refresh."""
    batches = [
        (settings.posts_alias, POSTS, "id"),
        (settings.feedback_alias, FEEDBACK, "id"),
        (settings.cascades_alias, CASCADES, "root_id"),
        (settings.alerts_alias, ALERTS, "id"),
        (settings.releases_alias, RELEASES, "id"),
    ]
    for alias, docs, id_field in batches:
        index = _write_index(es, alias)
        actions = [{"_index": index, "_id": getattr(d, id_field), "_source": d.model_dump(mode="json")} for d in docs]
        helpers.bulk(es, actions, refresh="wait_for")
