"""Elasticsearch for every room: the client, the index templates, and reading a query to the end.

The templates in ``canyu/conf/`` are the shape of the index, which both the sinks
(who write it) and the readers (queries, dashboard) rely on, so they live with
the rest of the contract. Reading uses a point in time, which freezes the view so
documents written or deleted meanwhile do not shift the pages; ``search_after``
on ``_shard_doc`` (the cheapest total order a point in time offers) continues
where the last page ended.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources

from elasticsearch import Elasticsearch

from canyu.settings import Settings


def client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.es_url, request_timeout=30, retry_on_timeout=True, max_retries=3)


def _conf(*parts: str) -> dict:
    return json.loads(resources.files("canyu").joinpath("conf", *parts).read_text(encoding="utf-8"))


def load_template(kind: str) -> dict:
    """The settings and mappings of one kind of document, as in ``canyu/conf/<kind>.template.json``."""
    return _conf(f"{kind}.template.json")


def analysis_choices() -> list[str]:
    folder = resources.files("canyu").joinpath("conf", "analysis")
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def load_analysis(name: str) -> dict:
    if name not in analysis_choices():
        choices = ", ".join(analysis_choices())
        raise ValueError(f"es_analysis {name!r} is not one of {choices} (canyu/conf/analysis/)")
    return _conf("analysis", f"{name}.json")


KEEP_ALIVE = "2m"  # per page, not for the whole scan


def pages(es: Elasticsearch, index: str, query: dict, size: int = 1000, source: bool = True) -> Iterator[list[dict]]:
    pit = es.open_point_in_time(index=index, keep_alive=KEEP_ALIVE)["id"]
    try:
        after = None
        while True:
            response = es.search(
                pit={"id": pit, "keep_alive": KEEP_ALIVE},
                query=query,
                size=size,
                sort=[{"_shard_doc": "asc"}],
                search_after=after,
                source=source,
                track_total_hits=False,
            )
            pit = response["pit_id"]
            hits = response["hits"]["hits"]
            if not hits:
                return
            yield hits
            after = hits[-1]["sort"]
    finally:
        es.close_point_in_time(id=pit)
