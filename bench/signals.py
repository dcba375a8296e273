"""The stateful step alone: posts/s with empty state and after ``--state-posts`` posts of state.

    .venv-runtime/bin/python -m bench.signals [--posts 10000] [--state-posts 100000] [--vectors]

It runs in an install like a user's, ``.venv-runtime`` (``make .venv-runtime/bin/.installed``:
canyu with its runtime dependencies only). The stateful step runs on the worker's event loop, one
thread: so do the numeric libraries here (``THREADS``), and the report says what each one ran.

``streams.signals.Signals`` runs over tables stored as the worker stores them: one RocksDB
database (rocksdict) per table, values through Faust's own ``json`` codec (orjson), so every
read decodes and every write encodes, as in Faust's ``rocksdb://`` store. What it leaves out
is Faust's own cost per write (the changelog record it produces), which ``bench.pipeline``
measures end to end. Each table write here is one changelog record there; the figure is
reported per post.

The near-duplicate fingerprint of each post is worked out before the clock starts: the worker
works it out in ``enrich``, with the classifier, in parallel over the partitions of
``posts.raw``, and sends it with the post (``bench.pipeline`` times that end to end).

Posts come from ``bench.corpus``, labelled by the lexicon classifier (labels only
decide which keys a post is counted under), dated two a second. The lexicon gives no sentence
vector, so feedback posts are grouped by their words; with ``--vectors`` each feedback post
gets one, as the offline classifier's would travel with it, and is compared with the open
items of all feedback by vector (``vector_of``: a stand-in, made before the clock starts). The same ``--posts`` posts
are timed twice: on empty tables, and on tables that ``--state-posts`` earlier posts of the
corpus filled. The two runs take turns, ``CHUNK`` posts at a time, so that whatever else the
machine does meanwhile slows both alike instead of the one that happens to run second.
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator, MutableMapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from itertools import islice
from pathlib import Path

import numpy as np
from faust.serializers import codecs
from faust.stores.rocksdb import RocksDBOptions
from tqdm import tqdm

from bench.corpus import make_posts, read_texts
from canyu.schema import EnrichedPost, LabelScores, Post, TopicScore
from models import describe_threads, load_classifier, thread_counts
from models.encoder import DIM
from streams.app import ROCKSDB_OPTIONS, tune_gc
from streams.feedback import GROUPED_INTENTS
from streams.products import Catalogue
from streams.signals import Signals, Tables

CHUNK = 500  # posts timed on one side before the other takes its turn
THREADS = 1  # BLAS and OpenMP threads: the stateful step has the worker's event loop, one thread


class RocksTable(MutableMapping):
    """A table as the worker keeps it: values in RocksDB, opened with the worker's options
    (bloom filters, its memory budget) and encoded as Faust encodes them; counts its writes."""

    def __init__(self, path: Path):
        self.db = RocksDBOptions(**ROCKSDB_OPTIONS).open(path)
        self.writes = 0

    def __getitem__(self, key: str):
        value = self.db.get(key.encode())
        if value is None:
            raise KeyError(key)
        return codecs.loads("json", value)

    def get(self, key: str, default=None):
        value = self.db.get(key.encode())
        return default if value is None else codecs.loads("json", value)

    def __setitem__(self, key: str, value) -> None:
        self.writes += 1
        self.db[key.encode()] = codecs.dumps("json", value)

    def __delitem__(self, key: str) -> None:
        self.writes += 1
        del self.db[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (k.decode() for k in self.db.keys())

    def items(self):
        return ((k.decode(), codecs.loads("json", v)) for k, v in self.db.items())

    def __len__(self) -> int:
        return sum(1 for _ in self.db.keys())


def enriched(posts: Iterable[Post], start: datetime, chunk: int = 1000) -> Iterator[EnrichedPost]:
    """The posts labelled by the lexicon classifier, with product mentions, dated two a second
    from ``start``; lazily, so that the posts waiting their turn take no memory."""
    classifier, catalogue = load_classifier("lexicon", threads=THREADS), Catalogue.load(None)
    posts = iter(posts)
    i = 0
    while batch := list(islice(posts, chunk)):
        for p, c in zip(batch, classifier.classify([p.full_text for p in batch]), strict=True):
            at = start + timedelta(seconds=i / 2)
            i += 1
            yield EnrichedPost(
                **p.model_dump(exclude={"created_at", "fetched_at", "language"}),
                created_at=at,
                fetched_at=at,
                language=p.language or c.language,
                sentiment=LabelScores(label=c.sentiment.label, scores=c.sentiment.scores),
                intent=LabelScores(label=c.intent.label, scores=c.intent.scores),
                topics=[TopicScore(id=t, score=s) for t, s in c.topics],
                products=catalogue.mentions(p.full_text),
                classifier="lexicon",
            )


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _direction(key: str) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(key.encode())).normal(size=DIM).astype(np.float32)


_topic_direction = lru_cache(maxsize=4096)(_direction)


def vector_of(post: EnrichedPost) -> np.ndarray | None:
    """A stand-in for a feedback post's sentence vector: the direction of its (first topic, first
    product), and some of its own, so that posts both join items and open new ones."""
    if post.intent.label not in GROUPED_INTENTS:
        return None
    topic = post.topics[0].id if post.topics else "-"
    vector = _topic_direction(f"{topic}|{post.products[0] if post.products else '-'}") + 0.8 * _direction(post.id)
    return vector / np.linalg.norm(vector)


def _feed(signals: Signals, posts: Iterable[EnrichedPost], first_offset: int, vectors: bool = False) -> float:
    """Seconds ``signals`` spends on ``posts`` (making them, their fingerprints and vectors is not timed)."""
    spent = 0.0
    for i, post in enumerate(posts, first_offset):
        fp = signals.fingerprint_of(post)  # enrich's work in the worker, in parallel over posts.raw
        vector = vector_of(post) if vectors else None  # the classifier's, in enrich
        started = time.perf_counter()
        signals.process(post, i, fp, vector)
        if i % 20_000 == 19_999:
            signals.expire()  # the worker runs expiry about once a minute
        spent += time.perf_counter() - started
    return spent


def run(texts: dict[str, list[str]], n: int, state_posts: int, vectors: bool = False) -> dict:
    """Figures for the stateful step: the same ``n`` posts timed on empty state, and after ``state_posts`` others."""
    start = datetime.now(timezone.utc) - timedelta(seconds=(state_posts + n) / 2)
    corpus = make_posts(texts, state_posts + n, "signals")
    timed_start = start + timedelta(seconds=state_posts / 2)
    timed = list(enriched(islice(make_posts(texts, state_posts + n, "signals"), state_posts, None), timed_start))
    folder = Path(tempfile.mkdtemp(prefix="canyu-bench-signals-"))
    tune_gc()  # as the worker does
    try:
        empty_tables = {name: RocksTable(folder / f"empty-{name}") for name in Tables.__dataclass_fields__}
        tables = {name: RocksTable(folder / name) for name in Tables.__dataclass_fields__}
        empty, signals = Signals(Tables(**empty_tables)), Signals(Tables(**tables))
        state = enriched(islice(corpus, state_posts), start)
        _feed(signals, tqdm(state, total=state_posts, desc="state", unit="post", mininterval=2), 0, vectors)
        rss_before = _rss_mb()
        writes_before = sum(t.writes for t in tables.values())
        spent_empty = spent_full = 0.0
        for at in tqdm(range(0, n, CHUNK), desc=f"the same {n} posts on both", unit="chunk", mininterval=2):
            chunk = timed[at : at + CHUNK]
            spent_empty += _feed(empty, chunk, at, vectors)
            spent_full += _feed(signals, chunk, state_posts + at, vectors)
        writes_empty = sum(t.writes for t in empty_tables.values())
        writes_full = sum(t.writes for t in tables.values()) - writes_before
        started = time.perf_counter()
        signals.forget_recent()
        signals.recent  # noqa: B018 - what a restarted worker does before its first post
        rebuild_s = time.perf_counter() - started
        return {
            "posts": n,
            "state_posts": state_posts,
            "empty_posts_per_s": round(n / spent_empty),
            "state_posts_per_s": round(n / spent_full),
            "slowdown": round(1 - spent_empty / spent_full, 3),
            "table_writes_per_post_empty": round(writes_empty / n, 2),
            "table_writes_per_post_state": round(writes_full / n, 2),
            "rebuild_in_memory_s": round(rebuild_s, 2),
            "posts_kept": len(tables["posts"]),
            "peak_rss_mb_before_last": round(rss_before),
            "peak_rss_mb_after": round(_rss_mb()),
            "threads": describe_threads(thread_counts()),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--state-posts", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="texts, when it is there")
    parser.add_argument("--vectors", action="store_true", help="feedback posts with a sentence vector")
    args = parser.parse_args()
    figures = run(read_texts(args.data)[0], args.posts, args.state_posts, args.vectors)
    for key, value in figures.items():
        print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
