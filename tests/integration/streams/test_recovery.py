"""The worker's RocksDB store and its recovery, on the real broker (issue 11).

- A worker stopped and started again on its own data folder reads its tables from its
  RocksDB databases, not from the changelogs, and counts on exactly.
- A worker killed with SIGKILL mid-stream and started again counts every post once: each
  minute's count equals the posts in that minute, whatever the kill left half written.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import timedelta

from rocksdict import AccessType, Rdict

from canyu import topics
from canyu.schema import EnrichedPost
from canyu.settings import Settings
from streams.signals import SignalConfig, dimensions, event_time, key_of
from tests.integration.conftest import free_port, read_topic, running, wait_for
from tests.integration.streams.test_worker import distinct_text, folded_counts, make_post, publish_all


def enriched_posts(settings: Settings) -> dict[str, EnrichedPost]:
    """The latest enriched copy of each post (a post sent again after a kill appears twice)."""
    records = read_topic(settings, settings.topic(topics.POSTS_ENRICHED))
    return {r.key.decode(): EnrichedPost.model_validate_json(r.value) for r in records}


def exact_counts(posts: dict[str, EnrichedPost]) -> dict[str, int]:
    live, counts = SignalConfig().live, Counter()
    for post in posts.values():
        if post.duplicate_of is None:
            (minute,) = live.starts(event_time(post))
            counts.update(f"{live.name}|{key_of(dims)}|{minute}" for dims in dimensions(post))
    return dict(counts)


def settled(settings: Settings, ids: set[str]) -> bool:
    """Every post is out, and the counts topic agrees with them."""
    posts = enriched_posts(settings)
    return set(posts) == ids and folded_counts(settings) == exact_counts(posts)


def stored_post_ids(settings: Settings) -> set[str]:
    folder = settings.home / "faust" / f"{settings.worker_app_id}-{settings.worker.web_port}"
    (db,) = folder.glob("v*/tables/state-posts-0.db")
    store = Rdict(str(db), access_type=AccessType.read_only())
    try:
        return {json.loads(key) for key in store.keys() if not key.startswith(b"__")}
    finally:
        store.close()


def test_a_restarted_worker_reads_its_own_store_and_counts_on(ns, tmp_path):
    settings = ns.replace(classifier="lexicon", worker_web_port=free_port())
    first = [make_post(i, distinct_text(i), timedelta(seconds=2 * i)) for i in range(60)]
    then = [make_post(100 + i, distinct_text(100 + i), timedelta(seconds=120 + 2 * i)) for i in range(60)]
    with running("worker", settings, tmp_path, "worker-1"):
        publish_all(settings, first)
        wait_for(lambda: settled(settings, {p.id for p in first}), what="the first posts counted")
    assert stored_post_ids(settings) == {p.id for p in first}  # on this machine's disk, not only in Kafka
    with running("worker", settings, tmp_path, "worker-2"):
        publish_all(settings, then)
        wait_for(lambda: settled(settings, {p.id for p in first + then}), what="all posts counted")
    restarted = (tmp_path / "worker-2.log").read_text(errors="replace")
    assert "Worker ready" in restarted
    assert "Restoring state from changelog topics" not in restarted  # nothing left to read from Kafka


def test_a_worker_killed_mid_stream_counts_every_post_once_after_its_restart(ns, tmp_path):
    settings = ns.replace(classifier="lexicon", worker_web_port=free_port())
    posts = [make_post(i, distinct_text(i), timedelta(seconds=i // 2)) for i in range(600)]
    with running("worker", settings, tmp_path, "worker-1") as worker:
        publish_all(settings, posts)
        wait_for(lambda: len(enriched_posts(settings)) >= 150, what="a quarter of the posts processed")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    with running("worker", settings, tmp_path, "worker-2"):
        wait_for(lambda: settled(settings, {p.id for p in posts}), timeout=180, what="every post counted once")
