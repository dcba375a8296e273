"""A consumer that hands batches to ``write`` and commits only what was written.

A subclass implements ``write(batch)``. If it raises, the same batch is retried
with the one retry policy (:class:`canyu_runtime.retry.RetryPolicy`, without bound
until shutdown) and nothing is committed, so a crash or an outage downstream loses
nothing: the records are read again from the last committed offset. After a
successful write it commits, per partition, the offset just past the last
record of the batch, and nothing beyond.

A commit that Kafka cannot take now (it is restarting, or the group is rebalancing) is tried
again after the next poll, which also lets a rebalance finish; later batches' offsets join
it. So a broker restart never stops the sink, and a failed commit never keeps it from polling.
A rebalance that has not finished after ``REJOIN_AFTER_S`` is given up: kafka-python 3.0 now
and then never completes one (the leader computes the assignment and the consumer never
receives it), so the sink closes its consumer and joins the group again with a new one.

A ``Permanent`` error from ``write`` (other than ``Misconfigured``, which stops the
sink) says that something in the batch can never be written. The batch is then split
in halves, each written on its own, down to the one record at fault, which goes to
``dead-letters`` with the reason; the rest of the batch is written.
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
from kafka.errors import CommitFailedError, KafkaError, RebalanceInProgressError
from kafka.structs import OffsetAndMetadata

from canyu.schema import DeadLetter
from canyu.settings import Settings
from canyu_runtime.dead_letters import DeadLetterWriter
from canyu_runtime.errors import Misconfigured, Permanent
from canyu_runtime.kafka_clients import make_consumer
from canyu_runtime.metrics import METRICS
from canyu_runtime.private import private_dir
from canyu_runtime.reasons import reason_of
from canyu_runtime.retry import RetryPolicy, Stopped

log = logging.getLogger(__name__)
# A rebalance takes seconds. One that lasts longer waits for a member that is busy or gone, and
# joining again costs only reading again what was written since the last commit.
REJOIN_AFTER_S = 30.0


# Under a steady flow, each fetch brought a few records, and each few cost a write of their own:
# an Elasticsearch bulk request and a Kafka commit. Kafka now holds a fetch until this much has
# come, or ``sink_fetch_wait_s`` has passed: a tenth as many writes (bench.pipeline, docs/performance.md).
FETCH_MIN_BYTES = 256 << 10
Offsets = dict[TopicPartition, OffsetAndMetadata]


def offsets_after(batch: list[ConsumerRecord], since: Offsets | None = None) -> Offsets:
    """What to commit once ``batch`` is written: for each partition, the offset after its last record
    (or the one in ``since``, offsets not committed yet, when that is further)."""
    offsets = {tp: meta.offset for tp, meta in (since or {}).items()}
    for record in batch:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()}


class BatchSink(ABC):
    name: str = "sink"
    stage: str = "sink"  # named on the dead letters it writes
    rebalancing_since: float | None = None  # when commits began to meet a rebalance in progress
    retry = RetryPolicy()  # a failed batch: backoff up to 30 s, tried again until it is written or shutdown

    def __init__(self, settings: Settings, topics: list[str], group_id: str):
        self.settings = settings
        self.topics = topics
        self.group_id = group_id
        self.heartbeat = settings.home / "run" / f"{group_id}.heartbeat"
        self.dead_letters = DeadLetterWriter(settings)
        self.stop = threading.Event()  # ``run``'s: set, it ends every wait for a retry

    def prepare(self) -> None:
        """Set up the destination before the first batch; retried like ``write``."""

    @abstractmethod
    def write(self, batch: list[ConsumerRecord]) -> None:
        """Persist the whole batch or raise; must be safe to call again with the same batch."""

    def _consumer(self) -> KafkaConsumer:
        consumer = make_consumer(
            self.settings,
            group_id=self.group_id,
            client_id=f"canyu-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.sink.batch_size,
            fetch_min_bytes=FETCH_MIN_BYTES,
            fetch_max_wait_ms=int(self.settings.sink.fetch_wait_s * 1000),
        )
        # Join the group only once the topics' partitions are known: a first join without them
        # assigns nothing and forces a second rebalance, in which kafka-python 3.0 now and then
        # never finishes the assignment (the sink then sits idle).
        for topic in self.topics:
            consumer.partitions_for_topic(topic)
        consumer.subscribe(self.topics)
        return consumer

    def run(self, stop: threading.Event | None = None) -> None:
        stop = self.stop = stop or threading.Event()
        private_dir(self.heartbeat.parent)
        self._until_done(self.prepare, "preparing", stop)
        consumer = self._consumer()
        uncommitted: Offsets = {}  # written, but Kafka could not take the commit yet
        self.rebalancing_since = None
        try:
            while not stop.is_set():
                if self.rebalancing_since is not None and time.monotonic() - self.rebalancing_since > REJOIN_AFTER_S:
                    consumer, uncommitted = self._rejoin(consumer), {}
                polled = consumer.poll(timeout_ms=int(self.settings.sink.wait_s * 1000))
                batch = [record for records in polled.values() for record in records]
                if batch:
                    started = time.monotonic()
                    self._until_done(partial(self.write_or_split, batch), f"writing {len(batch)} records", stop)
                    if stop.is_set():
                        break
                    uncommitted = self._commit(consumer, offsets_after(batch, since=uncommitted))
                    METRICS.processed_batch([record.topic for record in batch], time.monotonic() - started)
                elif uncommitted:
                    uncommitted = self._commit(consumer, uncommitted)
                self.heartbeat.touch(mode=0o600)  # the mode, when it is made: the folder is 0700 anyway
        finally:
            consumer.close(autocommit=False)
            self.close()

    def write_or_split(self, batch: list[ConsumerRecord]) -> None:
        """``write(batch)``; if it fails for good, each half on its own, so only the record at fault is set aside."""
        try:
            self.write(batch)
        except Misconfigured:
            raise
        except Permanent as e:
            if len(batch) == 1:
                self.send_dead_letters([self.dead_letter(batch[0], reason_of(e))])
                return
            log.warning("%s: a batch of %d records cannot be written (%s); splitting it", self.name, len(batch),
                        reason_of(e))  # fmt: skip
            half = len(batch) // 2
            self.write_or_split(batch[:half])
            self.write_or_split(batch[half:])

    @property
    def producer(self) -> KafkaProducer:
        """The dead-letter writer's, opened on first use: most sinks never write a dead letter."""
        return self.dead_letters.producer

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
        self.dead_letters.send_all(letters)

    def close(self) -> None:
        """Release what ``write`` opened; subclasses that open more call this too."""
        self.dead_letters.close()

    def _commit(self, consumer: KafkaConsumer, offsets: Offsets) -> Offsets:
        """Commit ``offsets``; what is still to commit: nothing, or all of them when Kafka cannot take
        the commit now (it is restarting, or the group is rebalancing), for ``run`` to try after its
        next poll. Never retried here: only a poll lets a rebalance finish."""
        try:
            consumer.commit(offsets)
            self.rebalancing_since = None
        except CommitFailedError as e:
            # The group rebalanced while we wrote (a long outage outlasts max.poll.interval.ms). The
            # records will be delivered again and written again, which is harmless: writes are idempotent.
            log.warning("%s: commit refused after a rebalance (%s); the batch will be read again", self.name, e)
        except KafkaError as e:
            log.warning("%s: committing failed (%s); trying again after the next poll", self.name, reason_of(e))
            METRICS.retried()
            if isinstance(e, RebalanceInProgressError) and self.rebalancing_since is None:
                self.rebalancing_since = time.monotonic()
            return offsets
        return {}

    def _rejoin(self, consumer: KafkaConsumer) -> KafkaConsumer:
        """A new consumer in place of one whose rebalance never finished. What was written since the
        last commit is read again and written again, which writes allow."""
        log.warning("%s: a rebalance unfinished after %.0f s; joining the group again with a new consumer",
                    self.name, REJOIN_AFTER_S)  # fmt: skip
        consumer.close(autocommit=False)
        self.rebalancing_since = None
        return self._consumer()

    def _until_done(self, step: Callable[[], None], what: str, stop: threading.Event) -> None:
        """``step()`` until it succeeds or ``stop`` is set; any failure but a ``Permanent`` one
        (``Misconfigured``: it stops the sink) means: keep the batch, try again."""
        if stop.is_set():
            return
        try:
            self.retry.call(step, what=f"{self.name}: {what}", stop=stop)
        except Stopped:
            return


def heartbeat_age_s(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None
