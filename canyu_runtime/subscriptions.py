"""The subscription registry: a compacted Kafka topic that every worker and UI reads.

The latest record per subscription id wins; a tombstone (null value) removes it.
Both the CLI and the dashboard manage subscriptions through this one class.
"""

from __future__ import annotations

import logging
import threading
import time

from kafka import TopicPartition
from pydantic import ValidationError

from canyu import topics
from canyu.schema import Subscription
from canyu.settings import Settings
from canyu_runtime.kafka_clients import make_consumer, make_producer, read_all
from canyu_runtime.reasons import reason_of

log = logging.getLogger(__name__)


def fold(records: list[tuple[bytes, bytes | None]]) -> dict[str, Subscription]:
    """What a compacted topic means: the last value per key, with tombstones removing."""
    current: dict[str, Subscription] = {}
    for key, value in records:
        sub_id = key.decode()
        if value is None:
            current.pop(sub_id, None)
        else:
            try:
                current[sub_id] = Subscription.model_validate_json(value)
            except ValidationError as e:  # stored before targets were checked: it could never be delivered
                log.warning("subscription %s is ignored: %s", sub_id, reason_of(e))
                current.pop(sub_id, None)
    return current


class SubscriptionStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.topic = settings.topic(topics.SUBSCRIPTIONS)

    def _send(self, key: str, value: bytes | None) -> None:
        producer = make_producer(self.settings)
        try:
            producer.send(self.topic, key=key.encode(), value=value).get(timeout=30)
        finally:
            producer.close()

    def put(self, subscription: Subscription) -> None:
        self._send(subscription.id, subscription.model_dump_json().encode())

    def remove(self, subscription_id: str) -> bool:
        """Tombstone the subscription; False when there was none with that id."""
        if subscription_id not in self.current():
            return False
        self._send(subscription_id, None)
        return True

    def current(self) -> dict[str, Subscription]:
        return fold([(r.key, r.value) for r in read_all(self.settings, self.topic)])


class SubscriptionFollower:
    """Every subscription's latest record, kept in memory by following the compacted topic.

    Each worker follows the whole topic from its beginning, with no consumer group, as a
    global table would, in a thread of its own: ``latest`` maps a subscription id to its
    latest value (a tombstone removes the id), and ``caught_up`` is set once it has read up
    to where the topic ended when it started.
    """

    def __init__(self, settings: Settings, poll_ms: int = 500):
        self.settings = settings
        self.topic = settings.topic(topics.SUBSCRIPTIONS)
        self.poll_ms = poll_ms
        self.latest: dict[bytes, bytes] = {}
        self.caught_up = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._follow, name="canyu-subscriptions", daemon=True)
            self._thread.start()

    def _follow(self) -> None:
        while True:
            try:
                self._read()
            except Exception:  # Kafka away: keep what we have, and start again
                log.exception("following %s failed; again in 5 s", self.topic)
                time.sleep(5)

    def _read(self) -> None:
        consumer = make_consumer(self.settings, enable_auto_commit=False)
        try:
            partitions = [TopicPartition(self.topic, p) for p in consumer.partitions_for_topic(self.topic) or ()]
            if not partitions:
                raise LookupError(f"no topic {self.topic} yet")
            consumer.assign(partitions)
            consumer.seek_to_beginning()
            end = consumer.end_offsets(partitions)
            latest: dict[bytes, bytes] = {}
            while True:
                for records in consumer.poll(timeout_ms=self.poll_ms).values():
                    for record in records:
                        if record.value is None:
                            latest.pop(record.key, None)
                        else:
                            latest[record.key] = record.value
                    self.latest = dict(latest)  # swapped whole: readers never see it half changed
                if not self.caught_up.is_set() and all(consumer.position(tp) >= end[tp] for tp in partitions):
                    self.caught_up.set()
        finally:
            consumer.close()
