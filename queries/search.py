"""Search indexed posts with a safe query syntax (simple_query_string, never scripts).

Filters and the short field names (``FIELDS``) are the contract's (``canyu.filters``),
shared with the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from elasticsearch import Elasticsearch

from canyu.filters import FIELDS, LABELS, POST_TIME, Filters, count_by, counts

INTERVALS = ("minute", "hour", "day", "week", "month", "quarter", "year")
TEXT_FIELDS = ["title^2", "text"]


def build_query(text: str, filters: Filters | None = None) -> dict:
    must = (
        [{"simple_query_string": {"query": text, "fields": TEXT_FIELDS, "default_operator": "and"}}]
        if text.strip() and text.strip() != "*"
        else [{"match_all": {}}]
    )
    return {"bool": {"must": must, "filter": (filters or Filters()).post_clauses()}}


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

    def body(self, size: int, filters: Filters | None = None) -> dict:
        if self.kind == "terms" and self.arg in LABELS and filters is not None:
            return filters.label_agg(self.arg, size)
        if self.kind == "terms":
            return count_by(self.arg, size)
        return {"date_histogram": {"field": POST_TIME, "calendar_interval": self.arg, "min_doc_count": 0}}


@dataclass
class SearchResult:
    total: int
    hits: list[dict]
    by_sentiment: dict[str, int]
    by_source: dict[str, int]
    aggs: dict[str, dict[str, int]] = field(default_factory=dict)


SUMMARY = (Agg("terms", "sentiment"), Agg("terms", "source"))


def _shown(hit: dict, filters: Filters) -> dict:
    """The hit with each label below ``filters.min_confidence`` shown as ``unsure`` (its scores kept)."""
    if filters.min_confidence is None:
        return hit
    return hit | {name: hit[name] | {"label": filters.label_shown(hit, name)} for name in LABELS if name in hit}


def search(
    es: Elasticsearch,
    alias: str,
    query: dict,
    size: int = 10,
    aggs: tuple[Agg, ...] = (),
    agg_size: int = 10,
    filters: Filters | None = None,
) -> SearchResult:
    """With ``filters`` (those ``query`` was built from), labels below their ``min_confidence`` read ``unsure``."""
    filters = filters or Filters()
    asked = {agg.name: agg for agg in (*SUMMARY, *aggs)}
    response = es.search(
        index=alias,
        query=query,
        size=size,
        track_total_hits=True,
        sort=["_score", {POST_TIME: "desc"}],
        aggs={name: agg.body(agg_size if agg in aggs else 50, filters) for name, agg in asked.items()},
    )
    buckets = {name: counts(response["aggregations"][name]) for name in asked}
    return SearchResult(
        total=response["hits"]["total"]["value"],
        hits=[_shown(h["_source"], filters) for h in response["hits"]["hits"]],
        by_sentiment=buckets["terms:sentiment"],
        by_source=buckets["terms:source"],
        aggs={agg.name: buckets[agg.name] for agg in aggs},
    )
