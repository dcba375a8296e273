"""A consumer that hands batches to ``write`` and commits only what was written.

A subclass implements ``write(batch)``. If it raises, the same batch is retried
with backoff and nothing is committed, so a crash or an outage downstream loses
nothing: the records are read again from the last committed offset. After a
successful write it commits, per partition, the offset just past the last
record of the batch, and nothing beyond.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata

from canyu import topics
from canyu_runtime.kafka_clients import make_producer
from canyu.schema import DeadLetter
from canyu.settings import Settings
from canyu_runtime.errors import Misconfigured

log = logging.getLogger(__name__)


def offsets_after(batch: list[ConsumerRecord]) -> dict[TopicPartition, OffsetAndMetadata]:
    """What to commit once ``batch`` is written: for each partition, the offset after its last record."""
    offsets: dict[TopicPartition, int] = {}
    for record in batch:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()}


class BatchSink(ABC):
    name: str = "sink"
    stage: str = "sink"  # named on the dead letters it writes
    _producer: KafkaProducer | None = None

    def __init__(self, settings: Settings, topics: list[str], group_id: str):
        self.settings = settings
        self.topics = topics
        self.group_id = group_id
        self.heartbeat = settings.home / "run" / f"{group_id}.heartbeat"
        self.written = 0

    def prepare(self) -> None:
        """Set up the destination before the first batch; retried like ``write``."""

    @abstractmethod
    def write(self, batch: list[ConsumerRecord]) -> None:
        """Persist the whole batch or raise; must be safe to call again with the same batch."""

    def _consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            *self.topics,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.group_id,
            client_id=f"canyu-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.sink_batch_size,
        )

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        self.heartbeat.parent.mkdir(parents=True, exist_ok=True)
        self._until_done(self.prepare, "preparing", stop)
        consumer = self._consumer()
        try:
            while not stop.is_set():
                polled = consumer.poll(timeout_ms=int(self.settings.sink_wait_s * 1000))
                batch = [record for records in polled.values() for record in records]
                if batch:
                    self._until_done(partial(self.write, batch), f"writing {len(batch)} records", stop)
                    if stop.is_set():
                        break
                    self._commit(consumer, batch)
                self.heartbeat.touch()
        finally:
            consumer.close(autocommit=False)
            self.close()

    @property
    def producer(self) -> KafkaProducer:
        """Opened on first use: most sinks never write a dead letter."""
        if self._producer is None:
            self._producer = make_producer(self.settings)
        return self._producer

    def dead_letter(self, record: ConsumerRecord, reason: str) -> DeadLetter:
        return DeadLetter.of(
            record.value or b"",  # a tombstone (no value) is kept as empty bytes
            stage=self.stage,
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode("utf-8", "replace") if record.key else None,
        )

    def send_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Publish to dead-letters and wait for the acks, so the batch's offsets are committed only after."""
        dlq = self.settings.topic(topics.DEAD_LETTERS)
        sent = [
            self.producer.send(dlq, key=(letter.key or "").encode(), value=letter.model_dump_json().encode())
            for letter in letters
        ]
        for future in sent:
            future.get(timeout=30)

    def close(self) -> None:
        """Release what ``write`` opened; subclasses that open more call this too."""
        if self._producer is not None:
            self._producer.close()

    def _commit(self, consumer: KafkaConsumer, batch: list[ConsumerRecord]) -> None:
        try:
            consumer.commit(offsets_after(batch))
            self.written += len(batch)
        except CommitFailedError as e:
            # The group rebalanced while we wrote (a long outage outlasts max.poll.interval.ms). The
            # records will be delivered again and written again, which is harmless: writes are idempotent.
            log.warning("%s: commit refused after a rebalance (%s); the batch will be read again", self.name, e)

    def _until_done(self, step: Callable[[], None], what: str, stop: threading.Event) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                step()
                return
            except Misconfigured:
                raise
            except Exception as e:  # noqa: BLE001 - any failure means: keep the batch, try again
                log.warning("%s: %s failed (%s); retrying in %.1fs", self.name, what, e, delay)
                stop.wait(delay)
                delay = min(delay * 2, 30.0)


def heartbeat_age_s(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None
