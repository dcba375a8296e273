"""``latency``: p50 and p95 from publish to searchable at a steady half of the ``e2e`` rate.

Each post's ``fetched_at`` is its publish time; a thread searches the alias every 0.2 s for
posts fetched since the oldest one not yet seen, and notes when each id first shows. The sink
stamps no indexing time, and searchable is what matters to a reader, so this is the honest
measure: it includes the index's 1 s refresh (no refresh is forced), and overstates by up to
one poll (0.2 s). Both clocks are this machine's.
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import datetime, timezone

from tqdm import tqdm

from bench.pipeline.namespace import POLL_S, Pipeline
from canyu import topics
from canyu_runtime.kafka_clients import make_producer

STRAGGLERS_S = 60  # how long to wait for the last posts, while they keep coming


class Watcher:
    """Notes when a search first returns each post sent, from a thread of its own."""

    def __init__(self, pipe: Pipeline):
        self.pipe = pipe
        self.sent: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.lock, self.done = threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def sending(self, post_id: str, at: float) -> None:
        with self.lock:
            self.sent[post_id] = at

    def _watch(self) -> None:
        while not self.done.is_set():
            with self.lock:
                waiting = [t for i, t in self.sent.items() if i not in self.seen]
            if waiting:
                since = datetime.fromtimestamp(min(waiting) - 0.002, timezone.utc).isoformat()
                hits = self.pipe.es.search(index=self.pipe.settings.posts_alias, size=10_000, source=False,
                                           query={"range": {"fetched_at": {"gte": since}}},
                                           track_total_hits=False)["hits"]["hits"]  # fmt: skip
                now = time.time()
                with self.lock:
                    for hit in hits:
                        if hit["_id"] in self.sent and hit["_id"] not in self.seen:
                            self.seen[hit["_id"]] = now
            time.sleep(POLL_S)

    def wait_for_stragglers(self, n: int) -> None:
        last, moved = 0, time.monotonic()
        while len(self.seen) < n and time.monotonic() - moved < STRAGGLERS_S:
            time.sleep(POLL_S)
            if len(self.seen) != last:
                last, moved = len(self.seen), time.monotonic()
            self.pipe.check_alive()

    def milliseconds(self) -> list[float]:
        return sorted((self.seen[i] - self.sent[i]) * 1000 for i in self.seen)


def _publish_steadily(pipe: Pipeline, watcher: Watcher, texts: dict[str, list[str]], rate: float, n: int) -> None:
    producer, raw = make_producer(pipe.settings), pipe.settings.topic(topics.POSTS_RAW)
    began = time.monotonic()
    try:
        posts = pipe.new_posts(texts, n, "lat")
        for i, post in enumerate(tqdm(posts, total=n, desc=f"at {rate:.0f}/s", leave=False, mininterval=1)):
            time.sleep(max(0.0, began + i / rate - time.monotonic()))
            now = time.time()
            post = post.model_copy(update={"fetched_at": datetime.fromtimestamp(now, timezone.utc)})
            watcher.sending(post.id, now)
            producer.send(raw, key=post.id.encode(), value=post.model_dump_json().encode())
            pipe.published += 1
        producer.flush()
    finally:
        producer.close()


def latency(pipe: Pipeline, texts: dict[str, list[str]], rate: float, seconds: float) -> dict:
    """Publish at ``rate`` for ``seconds``; each post's publish time to when a search first returns it."""
    n = max(2, int(rate * seconds))
    watcher = Watcher(pipe)
    watcher.thread.start()
    try:
        _publish_steadily(pipe, watcher, texts, rate, n)
        watcher.wait_for_stragglers(n)
    finally:
        watcher.done.set()
        watcher.thread.join()
    ms = watcher.milliseconds()
    cuts = statistics.quantiles(ms, n=100) if len(ms) >= 2 else [float("nan")] * 99
    return {"rate": rate, "posts": n, "seen": len(ms), "p50_ms": cuts[49], "p95_ms": cuts[94],
            "max_ms": ms[-1] if ms else float("nan"), "poll_s": POLL_S}  # fmt: skip
