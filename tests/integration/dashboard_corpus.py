"""A small, exact corpus for the dashboard tests, written straight into a namespace's indices.

Every count the dashboard should show can be computed from these lists, so the tests
compare what the API and the page show with Python's own count.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from elasticsearch import Elasticsearch, helpers

from canyu.schema import Alert, Author, Cascade, Engagement, EnrichedPost, FeedbackItem, LabelScores, TopicScore
from canyu.settings import Settings

START = datetime(2026, 11, 10, 8, tzinfo=timezone.utc)
SOURCES = ("microblog", "forum", "microblog")
LANGUAGES = ("zh", "en", "ko", "zh")
SENTIMENTS = ("negative", "neutral", "positive", "negative", "positive")
TOPICS = ("battery", "camera", "screen")
PRODUCTS = ("phone-x1", "phone-x2")


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
        classifier="seed",
        fetched_at=START + timedelta(days=15),
        enriched_at=START + timedelta(days=15, seconds=n),
    )


POSTS = [_post(n) for n in range(40)]

FEEDBACK = [
    FeedbackItem(id="fb-battery", title="battery drains overnight", intent="bug_report", product="phone-x1",
                 topic="battery", count=12, unique_authors=9, first_seen=START, last_seen=START + timedelta(days=9),
                 trend={"2026-11-10": 3, "2026-11-11": 4, "2026-11-12": 5}),
    FeedbackItem(id="fb-camera", title="add a night mode to the camera", intent="feature_request", product="phone-x2",
                 topic="camera", count=5, unique_authors=5, first_seen=START, last_seen=START + timedelta(days=8),
                 trend={"2026-11-15": 2, "2026-11-16": 3}),
    FeedbackItem(id="fb-closed", title="screen flickers (fixed)", intent="bug_report", product="phone-x1",
                 topic="screen", count=30, unique_authors=20, first_seen=START, last_seen=START + timedelta(days=3),
                 status="closed"),
]  # fmt: skip
OPEN_FEEDBACK = ["fb-battery", "fb-camera"]  # largest first

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
    ]
    for alias, docs, id_field in batches:
        index = _write_index(es, alias)
        actions = [{"_index": index, "_id": getattr(d, id_field), "_source": d.model_dump(mode="json")} for d in docs]
        helpers.bulk(es, actions, refresh="wait_for")
