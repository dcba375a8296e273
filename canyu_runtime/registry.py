"""Registries kept on compacted Kafka topics: subscriptions, releases, and items' lifecycles.

The latest record per key wins; a tombstone (null value) removes the key. Compaction keeps
the topic as small as its registry, so reading it whole is how every process knows it.

- :class:`Registry` is how the CLI and the dashboard change one and read it now.
- :class:`Follower` is how a long-running worker keeps one in memory: a thread follows the
  topic whole, with no consumer group, as a global table would.
"""

from __future__ import annotations

import logging
import threading
from typing import Generic, TypeVar

from kafka import TopicPartition
from pydantic import BaseModel, ValidationError

from canyu import topics
from canyu.schema import ItemLifecycle, Release
from canyu.settings import Settings
from canyu_runtime.kafka_clients import make_consumer, make_producer, read_all
from canyu_runtime.reasons import reason_of
from canyu_runtime.retry import RetryPolicy

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


def latest_values(records: list[tuple[bytes, bytes | None]]) -> dict[bytes, bytes]:
    """What a compacted topic's records mean: the last value per key, with tombstones removing."""
    latest: dict[bytes, bytes] = {}
    for key, value in records:
        apply_record(latest, key, value)
    return latest


def apply_record(latest: dict[bytes, bytes], key: bytes, value: bytes | None) -> bool:
    """Apply one record of a compacted topic to ``latest``; whether it changed anything."""
    if value is None:
        return latest.pop(key, None) is not None
    if latest.get(key) == value:
        return False
    latest[key] = value
    return True


def decode(latest: dict[bytes, bytes], model: type[M]) -> dict[str, M]:
    """The records of ``latest`` (a :class:`Follower`'s, or ``latest_values``) as ``model``, by key.

    A value that no longer validates (stored before a rule it breaks) is ignored with a
    warning rather than ending the reader: its key counts as absent.
    """
    current: dict[str, M] = {}
    for key, value in latest.items():
        try:
            current[key.decode()] = model.model_validate_json(value)
        except ValidationError as e:
            log.warning("%s %s is ignored: %s", model.__name__, key.decode(errors="replace"), reason_of(e))
    return current


def fold(records: list[tuple[bytes, bytes | None]], model: type[M]) -> dict[str, M]:
    """Every current record of a compacted topic as ``model``, by key."""
    return decode(latest_values(records), model)


class Registry(Generic[M]):
    """Records of ``model`` on the compacted topic ``topic_name``, each under its ``key`` attribute."""

    def __init__(self, settings: Settings, topic_name: str, model: type[M], key: str):
        self.settings = settings
        self.topic = settings.topic(topic_name)
        self.model = model
        self.key = key

    def key_of(self, record: M) -> str:
        return getattr(record, self.key)

    def _send(self, key: str, value: bytes | None) -> None:
        producer = make_producer(self.settings)
        try:
            producer.send(self.topic, key=key.encode(), value=value).get(timeout=30)
        finally:
            producer.close()

    def put(self, record: M) -> None:
        """Write ``record``; it replaces any earlier one under its key."""
        self._send(self.key_of(record), record.model_dump_json().encode())

    def remove(self, key: str) -> bool:
        """Tombstone ``key``; False (and nothing written) when there is no record under it."""
        if key not in self.current():
            return False
        self._send(key, None)
        return True

    def current(self) -> dict[str, M]:
        """Every record now, by key, read from the topic's beginning to its end."""
        return fold([(r.key, r.value) for r in read_all(self.settings, self.topic)], self.model)

    def get(self, key: str) -> M | None:
        return self.current().get(key)


def releases(settings: Settings) -> Registry[Release]:
    """Releases, registered (``canyu release add``) or seen in posts by the worker, by ``<product>|<version>``."""
    return Registry(settings, topics.RELEASES, Release, key="key")


def item_lifecycles(settings: Settings) -> Registry[ItemLifecycle]:
    """What engineers said about each feedback item, with its history, by item id."""
    return Registry(settings, topics.ITEM_LIFECYCLE, ItemLifecycle, key="item_id")


class Follower:
    """Every key's latest value on a compacted topic, kept in memory by a thread that follows it.

    ``latest`` maps a key to its latest value (a tombstone removes the key); it is replaced
    whole, never changed in place, so a reader never sees it half updated. ``version`` grows
    each time ``latest`` changes, so a worker can poll it cheaply and rebuild what it derives
    only when it moved. ``caught_up`` is set once the thread has read up to where the topic
    ended when it started. ``stop()`` ends the thread within one poll.

    When Kafka fails, the thread keeps what it has, waits as the runtime's retry policy says
    (failures in a row, counted again from zero once it has caught up), and reads the topic
    again from its beginning: while it was away, compaction may have dropped the tombstones
    of keys that were removed, so only a whole new read can tell. That read is published
    only once it has caught up, never half-way.
    """

    retry = RetryPolicy(first_s=1.0, max_s=30.0)

    def __init__(self, settings: Settings, topic_name: str, poll_ms: int = 500):
        self.settings = settings
        self.topic = settings.topic(topic_name)
        self.poll_ms = poll_ms
        self.latest: dict[bytes, bytes] = {}
        self.version = 0
        self.caught_up = threading.Event()
        self._stop = threading.Event()
        self._failures = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._follow, name=f"canyu-follow-{self.topic}", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                self._read()
            except Exception as e:  # Kafka away: keep what we have, and start again
                self._failures += 1
                delay = self.retry.delay(self._failures)
                log.warning("following %s failed (%s); again in %.1fs", self.topic, reason_of(e), delay)
                self._stop.wait(delay)

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
            read_whole = False
            while not self._stop.is_set():
                changed = False
                for records in consumer.poll(timeout_ms=self.poll_ms).values():
                    for record in records:
                        changed |= apply_record(latest, record.key, record.value)
                if not read_whole and all(consumer.position(tp) >= end[tp] for tp in partitions):
                    read_whole = True
                    self._failures = 0
                    changed = latest != self.latest
                if read_whole and changed:
                    self._publish(latest)
                if read_whole:
                    self.caught_up.set()
        finally:
            consumer.close()

    def _publish(self, latest: dict[bytes, bytes]) -> None:
        self.latest = dict(latest)  # first the records, then the version: a reader of version v sees at least v
        self.version += 1
