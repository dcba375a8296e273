"""What the page shows, read from Elasticsearch: one function per panel, one request each.

Posts are filtered and counted through the filters of ``canyu search`` (``canyu.filters``):
the fields by their short names (``FIELDS``), the counts read back with ``counts``.

Alerts, feedback items, cascades and release impacts come from their own indices, which exist
only once the streams that make them have run: a missing index reads as empty, not as an error.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from elasticsearch import Elasticsearch
from pydantic import BaseModel

from canyu.filters import POST_TIME, Filters, count_by, counts
from canyu.schema import Cascade, EnrichedPost, FeedbackItem, ReleaseImpact
from canyu.settings import Settings

TOP = 10
VOLUME_BUCKETS = 48
# The node has no auto_date_histogram, so the summary picks the finest of these that fits.
INTERVALS = (("1m", 60), ("5m", 300), ("15m", 900), ("1h", 3600), ("3h", 10800), ("6h", 21600), ("12h", 43200),
             ("1d", 86400), ("7d", 604800), ("30d", 2592000))  # fmt: skip
# Cascades are ranked by velocity before the post filters apply; this many are considered.
CASCADE_CANDIDATES = 200
# Releases shown: the newest this many, within the time range when one is chosen.
RELEASES = 10
VERSIONS = 100  # version tags in the filter menu, most named first


class Bucket(BaseModel):
    at: datetime
    total: int
    by_source: dict[str, int]
    by_sentiment: dict[str, int]


class Term(BaseModel):
    id: str
    total: int
    by_sentiment: dict[str, int]


class Options(BaseModel):
    """The values for the filter menus: every one seen in the index, whatever the current filters are;
    versions are those the posts in view name (the version filter aside, so the others stay listed)."""

    source: list[str]
    lang: list[str]
    topic: list[str]
    product: list[str]
    version: list[str]


class Summary(BaseModel):
    total: int
    by_source: dict[str, int]
    by_sentiment: dict[str, int]
    by_language: dict[str, int]
    interval: str
    volume: list[Bucket]
    topics: list[Term]
    products: list[Term]
    options: Options


class RankedCascade(BaseModel):
    cascade: Cascade
    post: EnrichedPost


def _where(clauses: list[dict]) -> dict:
    return {"bool": {"filter": clauses}}


def _by_sentiment(filters: Filters) -> dict:
    """Counts by sentiment label; below ``filters.min_confidence`` as ``unsure`` (read with ``counts``)."""
    return {"sentiment": filters.label_agg("sentiment", 3)}


def _interval(es: Elasticsearch, index: str, query: dict) -> str:
    """The finest interval that draws the matching posts' time span in at most ``VOLUME_BUCKETS`` bars."""
    r = es.search(
        index=index,
        size=0,
        query=query,
        aggs={"first": {"min": {"field": POST_TIME}}, "last": {"max": {"field": POST_TIME}}},
    )
    first, last = r["aggregations"]["first"]["value"], r["aggregations"]["last"]["value"]
    span_s = (last - first) / 1000 if first is not None else 0
    return next((name for name, seconds in INTERVALS if span_s / seconds < VOLUME_BUCKETS), INTERVALS[-1][0])


def summary(es: Elasticsearch, settings: Settings, filters: Filters) -> Summary:
    query = _where(filters.post_clauses())
    any_version = _where(replace(filters, version=[]).post_clauses())
    interval = _interval(es, settings.posts_alias, query)
    aggs = {
        "volume": {
            "date_histogram": {"field": POST_TIME, "fixed_interval": interval},
            "aggs": {"source": count_by("source", 50), **_by_sentiment(filters)},
        },
        "source": count_by("source", 50),
        "language": count_by("lang", 50),
        **_by_sentiment(filters),
        "topics": {**count_by("topic", TOP), "aggs": _by_sentiment(filters)},
        "products": {**count_by("product", TOP), "aggs": _by_sentiment(filters)},
        "options": {
            "global": {},
            "aggs": {"source": count_by("source", 50), "lang": count_by("lang", 50), "topic": count_by("topic", 200),
                     "product": count_by("product", 200),
                     "version": {"filter": any_version, "aggs": {"tags": count_by("version", VERSIONS)}}},
        },
    }  # fmt: skip
    r = es.search(index=settings.posts_alias, size=0, track_total_hits=True, query=query, aggs=aggs)
    a = r["aggregations"]
    return Summary(
        total=r["hits"]["total"]["value"],
        by_source=counts(a["source"]),
        by_sentiment=counts(a["sentiment"]),
        by_language=counts(a["language"]),
        interval=interval,
        volume=[
            Bucket(
                at=b["key_as_string"],
                total=b["doc_count"],
                by_source=counts(b["source"]),
                by_sentiment=counts(b["sentiment"]),
            )
            for b in a["volume"]["buckets"]
        ],
        topics=[
            Term(id=b["key"], total=b["doc_count"], by_sentiment=counts(b["sentiment"])) for b in a["topics"]["buckets"]
        ],
        products=[
            Term(id=b["key"], total=b["doc_count"], by_sentiment=counts(b["sentiment"]))
            for b in a["products"]["buckets"]
        ],
        options=_options(a["options"]),
    )


def _options(aggs: dict) -> Options:
    listed = {name: sorted(counts(aggs[name])) for name in ("source", "lang", "topic", "product")}
    return Options(**listed, version=list(counts(aggs["version"]["tags"])))


def top_posts(es: Elasticsearch, settings: Settings, filters: Filters) -> list[EnrichedPost]:
    """By engagement: likes, then reposts, then comments (a sum would need a script)."""
    order = [{f"engagement.{m}": {"order": "desc", "missing": "_last"}} for m in ("likes", "reposts", "comments")]
    r = es.search(index=settings.posts_alias, query=_where(filters.post_clauses()), sort=order, size=TOP)
    return [EnrichedPost.model_validate(h["_source"]) for h in r["hits"]["hits"]]


def top_cascades(es: Elasticsearch, settings: Settings, filters: Filters) -> list[RankedCascade]:
    """The fastest-spreading cascades whose root post passes the filters, fastest first."""
    r = es.search(
        index=settings.cascades_alias,
        sort=[{"velocity": {"order": "desc", "unmapped_type": "float"}}],
        size=CASCADE_CANDIDATES,
        ignore_unavailable=True,
    )
    cascades = [Cascade.model_validate(h["_source"]) for h in r["hits"]["hits"]]
    if not cascades:
        return []
    roots = es.search(
        index=settings.posts_alias,
        query=_where([*filters.post_clauses(), {"terms": {"id": [c.root_id for c in cascades]}}]),
        size=len(cascades),
    )
    posts = {h["_source"]["id"]: EnrichedPost.model_validate(h["_source"]) for h in roots["hits"]["hits"]}
    return [RankedCascade(cascade=c, post=posts[c.root_id]) for c in cascades if c.root_id in posts][:TOP]


def tracked_feedback(es: Elasticsearch, settings: Settings, filters: Filters) -> list[FeedbackItem]:
    """The largest items the worker still tracks, whatever people said of them (open, fixed, verified, …)."""
    r = es.search(
        index=settings.feedback_alias,
        query={"bool": {"filter": filters.feedback_clauses(), "must_not": [{"term": {"status": "closed"}}]}},
        sort=[
            {"count": {"order": "desc", "unmapped_type": "long"}},
            {"last_seen": {"order": "desc", "unmapped_type": "date"}},
        ],
        size=TOP,
        ignore_unavailable=True,
    )
    return [FeedbackItem.model_validate(h["_source"]) for h in r["hits"]["hits"]]


def releases(es: Elasticsearch, settings: Settings, filters: Filters) -> list[ReleaseImpact]:
    """The newest releases and what they did, by their date within the time range (the other filters aside)."""
    r = es.search(
        index=settings.releases_alias,
        query=_where(filters.time_clauses("date")),
        sort=[{"date": {"order": "desc", "unmapped_type": "date"}}],
        size=RELEASES,
        ignore_unavailable=True,
    )
    return [ReleaseImpact.model_validate(h["_source"]) for h in r["hits"]["hits"]]
