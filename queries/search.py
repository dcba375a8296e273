"""Search indexed posts with a safe query syntax (simple_query_string, never scripts).

Users name fields the short way (``topic``, ``lang``); ``FIELDS`` maps those
names to the indexed fields once, for filters and aggregations alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from elasticsearch import Elasticsearch

from canyu.schema import INTENT_LABELS, SENTIMENT_LABELS

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

FIELDS = {
    "source": "source",
    "lang": "language",
    "topic": "topics.id",
    "intent": "intent.label",
    "product": "products",
    "sentiment": "sentiment.label",
    "author": "author.id",
}
LABELS = {"sentiment": SENTIMENT_LABELS, "intent": INTENT_LABELS}
INTERVALS = ("minute", "hour", "day", "week", "month", "quarter", "year")
TEXT_FIELDS = ["title^2", "text"]


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``30m``, ``12h``, ``7d``, ``2w`` before now, or an ISO date/datetime (UTC if no zone)."""
    now = now or datetime.now(timezone.utc)
    match = _RELATIVE.match(value.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r}: use e.g. 7d, 12h, 30m, 2w or an ISO date like 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class Filters:
    """Each list keeps posts with any of its values; different fields must all match."""

    source: list[str] = field(default_factory=list)
    lang: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    intent: list[str] = field(default_factory=list)
    product: list[str] = field(default_factory=list)
    sentiment: list[str] = field(default_factory=list)
    author: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name, allowed in LABELS.items():
            wrong = [v for v in getattr(self, name) if v not in allowed]
            if wrong:
                raise ValueError(f"--{name} {', '.join(wrong)}: choose from {', '.join(allowed)}")
        if self.since and self.until and self.since >= self.until:
            raise ValueError(f"--since {self.since.isoformat()} is not before --until {self.until.isoformat()}")


def build_query(text: str, filters: Filters | None = None) -> dict:
    filters = filters or Filters()
    must = (
        [{"simple_query_string": {"query": text, "fields": TEXT_FIELDS, "default_operator": "and"}}]
        if text.strip() and text.strip() != "*"
        else [{"match_all": {}}]
    )
    clauses: list[dict] = [{"terms": {FIELDS[name]: values}} for name in FIELDS if (values := getattr(filters, name))]
    window = {op: at.isoformat() for op, at in (("gte", filters.since), ("lt", filters.until)) if at}
    if window:
        clauses.append({"range": {"created_at": window}})
    return {"bool": {"must": must, "filter": clauses}}


@dataclass(frozen=True)
class Agg:
    """``terms:<field>`` (a name in FIELDS) or ``date:<interval>`` (a calendar interval of created_at)."""

    kind: str
    arg: str

    @classmethod
    def parse(cls, spec: str) -> Agg:
        kind, _, arg = spec.partition(":")
        if kind == "terms" and arg in FIELDS:
            return cls(kind, arg)
        if kind == "date" and arg in INTERVALS:
            return cls(kind, arg)
        raise ValueError(
            f"--agg {spec!r}: use terms:<{'|'.join(FIELDS)}> or date:<{'|'.join(INTERVALS)}>, "
            "e.g. terms:topic or date:day"
        )

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.arg}"

    def body(self, size: int) -> dict:
        if self.kind == "terms":
            return {"terms": {"field": FIELDS[self.arg], "size": size}}
        return {"date_histogram": {"field": "created_at", "calendar_interval": self.arg, "min_doc_count": 0}}


@dataclass
class SearchResult:
    total: int
    hits: list[dict]
    by_sentiment: dict[str, int]
    by_source: dict[str, int]
    aggs: dict[str, dict[str, int]] = field(default_factory=dict)


SUMMARY = (Agg("terms", "sentiment"), Agg("terms", "source"))


def search(
    es: Elasticsearch, alias: str, query: dict, size: int = 10, aggs: tuple[Agg, ...] = (), agg_size: int = 10
) -> SearchResult:
    asked = {agg.name: agg for agg in (*SUMMARY, *aggs)}
    response = es.search(
        index=alias,
        query=query,
        size=size,
        track_total_hits=True,
        sort=["_score", {"created_at": "desc"}],
        aggs={name: agg.body(agg_size if agg in aggs else 50) for name, agg in asked.items()},
    )
    buckets = {
        name: {b.get("key_as_string", b["key"]): b["doc_count"] for b in response["aggregations"][name]["buckets"]}
        for name in asked
    }
    return SearchResult(
        total=response["hits"]["total"]["value"],
        hits=[h["_source"] for h in response["hits"]["hits"]],
        by_sentiment=buckets["terms:sentiment"],
        by_source=buckets["terms:source"],
        aggs={agg.name: buckets[agg.name] for agg in aggs},
    )
