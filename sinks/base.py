"""A consumer that hands batches to ``write`` and commits only what was written.

A subclass implements ``write(batch)``. If it raises, the same batch is retried
with backoff and nothing is committed, so a crash or an outage downstream loses
nothing: the records are read again from the last committed offset.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord

from canyu.settings import Settings

log = logging.getLogger(__name__)


class BatchSink(ABC):
    name: str = "sink"

    def __init__(self, settings: Settings, topic: str, group_id: str):
        self.settings = settings
        self.topic = topic
        self.group_id = group_id
        self.heartbeat = settings.home / "run" / f"{group_id}.heartbeat"
        self.written = 0

    @abstractmethod
    def write(self, batch: list[ConsumerRecord]) -> None:
        """Persist the whole batch or raise; must be safe to call again with the same batch."""

    def _consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            self.topic,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.group_id,
            client_id=f"canyu-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.sink_batch_size,
        )

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        consumer = self._consumer()
        self.heartbeat.parent.mkdir(parents=True, exist_ok=True)
        try:
            while not stop.is_set():
                polled = consumer.poll(timeout_ms=int(self.settings.sink_wait_s * 1000))
                batch = [record for records in polled.values() for record in records]
                if batch:
                    self._write_until_done(batch, stop)
                    if stop.is_set():
                        break
                    consumer.commit()
                    self.written += len(batch)
                self.heartbeat.touch()
        finally:
            consumer.close(autocommit=False)
            self.close()

    def close(self) -> None:
        """Release what ``write`` opened."""

    def _write_until_done(self, batch: list[ConsumerRecord], stop: threading.Event) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                self.write(batch)
                return
            except Exception as e:  # noqa: BLE001 - any failure means: keep the batch, try again
                log.warning("%s: writing %d records failed (%s); retrying in %.1fs", self.name, len(batch), e, delay)
                stop.wait(delay)
                delay = min(delay * 2, 30.0)


def heartbeat_age_s(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None
