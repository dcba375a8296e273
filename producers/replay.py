"""Replay a JSONL file of posts onto ``posts.raw``, as fast as possible or at a set rate.

Lines that are not valid posts are reported with their line number and skipped;
the replay publishes everything else.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm

from canyu import topics
from canyu.schema import Post
from canyu.settings import Settings
from producers.kafka import make_producer, publish


def sample_corpus() -> Path:
    """The built-in sample corpus shipped with canyu."""
    return Path(str(resources.files("canyu") / "sample" / "posts.jsonl"))


@dataclass
class ReplayResult:
    published: int = 0
    failed: list[str] = field(default_factory=list)  # sends the broker never acknowledged
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def read_posts(path: Path, result: ReplayResult) -> Iterator[Post]:
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield Post.model_validate_json(line)
            except ValidationError as e:
                first = e.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "line"
                result.rejected.append((number, f"{where}: {first['msg']}"))


def replay(path: Path, settings: Settings, rate: float | None = None, progress: bool = True) -> ReplayResult:
    """Publish every valid post in ``path``; ``rate`` is posts per second (None: unthrottled)."""
    result = ReplayResult()
    total = sum(1 for line in path.open(encoding="utf-8") if line.strip())
    producer = make_producer(settings)
    topic = settings.topic(topics.POSTS_RAW)
    started = time.monotonic()
    try:
        with tqdm(total=total, unit="post", desc=f"replay → {topic}", disable=not progress) as bar:
            for post in read_posts(path, result):
                if rate:
                    time.sleep(max(0.0, started + result.published / rate - time.monotonic()))
                future = publish(producer, topic, post)
                future.add_callback(lambda _: bar.update())
                future.add_errback(lambda exc, post_id=post.id: result.failed.append(f"{post_id}: {exc}"))
                result.published += 1
            producer.flush()
        result.published -= len(result.failed)
    finally:
        producer.close()
    return result
