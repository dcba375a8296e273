"""The live feed: new posts and alerts pushed to the page as server-sent events.

Each connection polls Elasticsearch once a second with its own filters. A post is
searchable only after the sink's batch and an index refresh, so later than its
``enriched_at``: every poll reads the last ``LAG`` (by Elasticsearch's clock) and
skips the ids it already sent, so late arrivals are not missed. The window is
anchored on "now" rather than on the newest document seen, so one document with a
timestamp from a skewed clock cannot hide the others.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

from elasticsearch import Elasticsearch
from fastapi import Request
from starlette.concurrency import run_in_threadpool

POLL_S = 1.0
LAG = timedelta(seconds=60)
# The page shows this many; a burst larger than that shows its newest.
FEED_SIZE = 30


class Feed:
    """New documents of one index, each sent once, by the time field that says when they arrived."""

    def __init__(self, index: str, time_field: str, clauses: list[dict]):
        self.index = index
        self.time_field = time_field
        self.clauses = clauses
        self.started = False
        self.seen: dict[str, datetime] = {}

    def poll(self, es: Elasticsearch) -> list[dict]:
        """The documents not sent yet, oldest first; on the first poll, the latest ``FEED_SIZE``."""
        clauses = list(self.clauses)
        if self.started:
            clauses.append({"range": {self.time_field: {"gte": f"now-{LAG.seconds}s"}}})
            # Twice the window, so a small difference between this clock and the cluster's cannot resend.
            horizon = datetime.now(timezone.utc) - 2 * LAG
            self.seen = {i: t for i, t in self.seen.items() if t >= horizon}
        r = es.search(
            index=self.index,
            query={"bool": {"filter": clauses}},
            sort=[{self.time_field: {"order": "desc", "unmapped_type": "date"}}],
            size=FEED_SIZE,
            ignore_unavailable=True,
        )
        self.started = True
        new = [h["_source"] for h in reversed(r["hits"]["hits"]) if h["_source"]["id"] not in self.seen]
        for doc in new:
            self.seen[doc["id"]] = datetime.fromisoformat(doc[self.time_field])
        return new


async def events(request: Request, es: Elasticsearch, feeds: dict[str, Feed]) -> AsyncIterator[str]:
    """SSE frames: ``event: <feed name>`` with the document as data, and a comment as a heartbeat."""
    while not await request.is_disconnected():
        for name, feed in feeds.items():
            for doc in await run_in_threadpool(feed.poll, es):
                yield f"event: {name}\ndata: {json.dumps(doc, ensure_ascii=False)}\n\n"
        yield ": heartbeat\n\n"
        await asyncio.sleep(POLL_S)
