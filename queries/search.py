"""Search indexed posts with a safe query syntax (simple_query_string, never scripts)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from elasticsearch import Elasticsearch

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``30m``, ``12h``, ``7d``, ``2w`` before now, or an ISO date/datetime (UTC if no zone)."""
    now = now or datetime.now(timezone.utc)
    match = _RELATIVE.match(value.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since {value!r}: use e.g. 7d, 12h, 30m, 2w or an ISO date like 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class SearchResult:
    total: int
    hits: list[dict]
    by_sentiment: dict[str, int]
    by_source: dict[str, int]


def build_query(
    text: str,
    source: str | None = None,
    lang: str | None = None,
    since: datetime | None = None,
    sentiment: str | None = None,
) -> dict:
    must = (
        [{"simple_query_string": {"query": text, "fields": ["title^2", "text"], "default_operator": "and"}}]
        if text.strip() and text.strip() != "*"
        else [{"match_all": {}}]
    )
    filters: list[dict] = []
    if source:
        filters.append({"term": {"source": source}})
    if lang:
        filters.append({"term": {"language": lang}})
    if sentiment:
        filters.append({"term": {"sentiment.label": sentiment}})
    if since:
        filters.append({"range": {"created_at": {"gte": since.isoformat()}}})
    return {"bool": {"must": must, "filter": filters}}


def search(es: Elasticsearch, alias: str, query: dict, size: int = 10) -> SearchResult:
    response = es.search(
        index=alias,
        query=query,
        size=size,
        track_total_hits=True,
        sort=["_score", {"created_at": "desc"}],
        aggs={
            "sentiment": {"terms": {"field": "sentiment.label", "size": 10}},
            "source": {"terms": {"field": "source", "size": 50}},
        },
    )
    buckets = lambda name: {b["key"]: b["doc_count"] for b in response["aggregations"][name]["buckets"]}  # noqa: E731
    return SearchResult(
        total=response["hits"]["total"]["value"],
        hits=[h["_source"] for h in response["hits"]["hits"]],
        by_sentiment=buckets("sentiment"),
        by_source=buckets("source"),
    )
