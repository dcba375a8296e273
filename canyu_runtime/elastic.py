"""Elasticsearch for every room: the one client factory, the one health check, and reading a query to the end.

Reading uses a point in time, which freezes the view so documents written or deleted
meanwhile do not shift the pages; ``search_after`` on ``_shard_doc`` (the cheapest
total order a point in time offers) continues where the last page ended.
"""

from __future__ import annotations

from collections.abc import Iterator

from elasticsearch import ApiError, Elasticsearch, TransportError

from canyu.settings import Settings

KEEP_ALIVE = "2m"  # per page, not for the whole scan


def client(settings: Settings, request_timeout: float = 30) -> Elasticsearch:
    url = settings.elasticsearch.url
    return Elasticsearch(url, request_timeout=request_timeout, retry_on_timeout=True, max_retries=3)


def health(es: Elasticsearch, timeout_s: float = 5) -> str | None:
    """A line on the cluster when it answers and serves, None otherwise: the local stack's check and the
    dashboard's ``/health``. Serving is green or yellow (a single node leaves replicas unassigned; every
    primary shard is there), as the Compose file's container check asks. Cluster health rather than ping:
    the integ-test node has no root (GET /) handler. One try within ``timeout_s``: a check must be quick."""
    try:
        found = es.options(request_timeout=timeout_s, max_retries=0).cluster.health()
    except (ApiError, TransportError):
        return None
    if found.get("status") not in ("green", "yellow"):
        return None
    return f"cluster {found['cluster_name']} {found['status']}, {found['number_of_nodes']} node(s)"


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
