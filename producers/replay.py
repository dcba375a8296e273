"""JSONL files of posts: the built-in sample, archives, or a file another program appends to.

As a source (``kind: replay``) it reads the file from the byte offset in its cursor, a
page of lines at a time, and later polls pick up lines appended since. A last line
without its newline may still be being written: it waits for the next poll.
``canyu replay`` publishes a whole file once, as fast as possible or at a set rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, FilePath
from tqdm import tqdm

from canyu import topics
from canyu.schema import Post
from canyu.settings import Settings
from canyu_runtime.kafka_clients import make_producer, publish
from producers.base import Page, Record, Source, SourceConfig
from producers.runner import Publisher, mapped


def sample_corpus() -> Path:
    """The built-in sample corpus shipped with canyu."""
    return Path(str(resources.files("canyu") / "sample" / "posts.jsonl"))


class ReplayConfig(SourceConfig):
    kind: Literal["replay"] = "replay"
    path: FilePath
    lines_per_page: int = Field(500, ge=1)


class ReplaySource(Source):
    kind = "replay"
    config: ReplayConfig

    def records(self, body: bytes, content_type: str | None = None) -> list[Record]:
        return [Record(line, line) for line in body.splitlines() if line.strip()]

    def fetch(self, position: dict) -> Page:
        offset = position.get("offset", 0)
        lines = []
        with self.config.path.open("rb") as f:
            f.seek(offset)
            while len(lines) < self.config.lines_per_page and (line := f.readline()).endswith(b"\n"):
                lines.append(line)
        records = self.records(b"".join(lines))
        return Page(records, {"offset": offset + sum(map(len, lines))}, more=len(lines) == self.config.lines_per_page)

    def map_item(self, line: bytes) -> Post:
        return Post.model_validate_json(line)  # a replayed post keeps its own source and id


@dataclass
class ReplayResult:
    published: int = 0
    unacknowledged: list[str] = field(default_factory=list)  # sends the broker never acknowledged
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason); also on dead-letters


def replay(path: Path, settings: Settings, rate: float | None = None, progress: bool = True) -> ReplayResult:
    """Publish every valid post in ``path``; ``rate`` is posts per second (None: unthrottled).

    Invalid lines are reported with their line number and sent to the dead-letter queue.
    """
    source = ReplaySource(ReplayConfig(name="replay", path=path))
    lines = path.read_bytes().splitlines()
    result = ReplayResult()
    producer = make_producer(settings)
    publisher = Publisher(producer, settings, source)
    topic = settings.topic(topics.POSTS_RAW)
    started = time.monotonic()
    try:
        with tqdm(total=len(lines), unit="post", desc=f"replay → {topic}", disable=not progress) as bar:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                ((_, post, reason),) = mapped(source, [Record(line, line)])
                if post is None:
                    result.rejected.append((number, reason))
                    publisher.dead_letter(line, f"line {number}: {reason}")
                    continue
                if rate:
                    time.sleep(max(0.0, started + result.published / rate - time.monotonic()))
                future = publish(producer, topic, post)
                future.add_callback(lambda _: bar.update())
                future.add_errback(lambda exc, post_id=post.id: result.unacknowledged.append(f"{post_id}: {exc}"))
                result.published += 1
            producer.flush()
        result.published -= len(result.unacknowledged)
    finally:
        producer.close()
    return result
