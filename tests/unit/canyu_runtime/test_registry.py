"""The compacted-topic registries: what a topic's records mean, and how a follower keeps up with them."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from canyu import topics
from canyu.schema import Release
from canyu.settings import Settings
from canyu_runtime import registry
from canyu_runtime.retry import RetryPolicy

SETTINGS = Settings(namespace="tr.")


def release(version: str, product: str = "hyperos") -> bytes:
    shipped = Release(product=product, version=version, date=datetime(2026, 11, 20, tzinfo=timezone.utc))
    return shipped.model_dump_json().encode()


def test_fold_keeps_the_latest_valid_record_per_key_as_the_model():
    records = [
        (b"hyperos|1.0.6.0", release("1.0.6.0")),
        (b"hyperos|1.0.7.0", release("1.0.7.0")),
        (b"hyperos|1.0.6.0", None),
        (b"miui|15.0.7", release("15.0.7", "miui")),
        (b"miui|15.0.7", b'{"product": "miui", "version": "not a version"}'),  # stored before the rule
        (b"nobody|1", None),
    ]
    current = registry.fold(records, Release)
    assert list(current) == ["hyperos|1.0.7.0"]
    assert current["hyperos|1.0.7.0"].version == "1.0.7.0"


def test_a_record_that_changes_nothing_is_not_a_change():
    latest: dict[bytes, bytes] = {}
    assert registry.apply_record(latest, b"a", b"1")
    assert not registry.apply_record(latest, b"a", b"1")
    assert registry.apply_record(latest, b"a", b"2")
    assert registry.apply_record(latest, b"a", None)
    assert not registry.apply_record(latest, b"a", None)
    assert latest == {}


class FakeProducer:
    def __init__(self, sent: list):
        self.sent = sent

    def send(self, topic, key, value):
        self.sent.append((topic, key, value))
        return SimpleNamespace(get=lambda timeout: None)

    def close(self):
        pass


@pytest.fixture
def sent(monkeypatch) -> list:
    sent: list = []
    monkeypatch.setattr(registry, "make_producer", lambda settings: FakeProducer(sent))
    return sent


def test_a_registry_writes_each_record_under_its_key_and_tombstones_only_what_exists(monkeypatch, sent):
    on_topic = [SimpleNamespace(key=b"hyperos|1.0.7.0", value=release("1.0.7.0"))]
    monkeypatch.setattr(registry, "read_all", lambda settings, topic: on_topic)
    releases = registry.releases(SETTINGS)
    releases.put(Release.model_validate_json(release("1.0.8.0")))
    assert not releases.remove("hyperos|9.9")
    assert releases.remove("hyperos|1.0.7.0")
    assert [(topic, key, value is None) for topic, key, value in sent] == [
        ("tr.releases", b"hyperos|1.0.8.0", False),
        ("tr.releases", b"hyperos|1.0.7.0", True),
    ]
    assert releases.get("hyperos|1.0.7.0").version == "1.0.7.0"


class FakeConsumer:
    """One partition whose records arrive in ``batches``; an exception in them is raised by that poll.

    ``on_poll`` is called at each poll, before its batch; when the batches run out, ``done``.
    """

    def __init__(self, batches: list, end: int, on_poll=lambda: None, done=lambda: None):
        self.batches = list(batches)
        self.end = end
        self.on_poll = on_poll
        self.done = done
        self.read = 0
        self.closed = False

    def partitions_for_topic(self, topic):
        return {0}

    def assign(self, partitions):
        (self.tp,) = partitions

    def seek_to_beginning(self):
        self.read = 0

    def end_offsets(self, partitions):
        return {self.tp: self.end}

    def position(self, tp):
        return self.read

    def poll(self, timeout_ms):
        self.on_poll()
        if not self.batches:
            self.done()
            return {}
        batch = self.batches.pop(0)
        if isinstance(batch, Exception):
            raise batch
        self.read += len(batch)
        return {self.tp: [SimpleNamespace(key=k, value=v) for k, v in batch]}

    def close(self):
        self.closed = True


def test_a_follower_publishes_once_caught_up_and_counts_each_change(monkeypatch):
    follower = registry.Follower(SETTINGS, topics.RELEASES)
    seen: list[tuple[int, dict]] = []
    batches = [
        [(b"a", b"1")], [(b"b", b"1")], [(b"a", b"2")],  # the topic as it was: read whole before anything shows
        [(b"c", b"1")],
        [(b"c", b"1")],  # the same value again changes nothing
        [(b"b", None)],
    ]  # fmt: skip
    consumer = FakeConsumer(batches, end=3, on_poll=lambda: seen.append((follower.version, follower.latest)),
                            done=follower._stop.set)  # fmt: skip
    monkeypatch.setattr(registry, "make_consumer", lambda settings, **config: consumer)

    follower._read()

    assert seen[:3] == [(0, {})] * 3
    assert not consumer.batches and consumer.closed
    assert seen[3:] == [
        (1, {b"a": b"2", b"b": b"1"}),
        (2, {b"a": b"2", b"b": b"1", b"c": b"1"}),
        (2, {b"a": b"2", b"b": b"1", b"c": b"1"}),
        (3, {b"a": b"2", b"c": b"1"}),
    ]
    assert follower.caught_up.is_set()


def test_a_follower_that_reads_again_replaces_what_it_had_whole(monkeypatch):
    follower = registry.Follower(SETTINGS, topics.RELEASES)
    follower.latest, follower.version = {b"a": b"1", b"b": b"1"}, 4
    seen: list[dict] = []
    # Meanwhile b was removed and compaction dropped its tombstone: only a whole new read can tell.
    consumer = FakeConsumer([[(b"a", b"1")], [(b"c", b"1")]], end=2, on_poll=lambda: seen.append(follower.latest),
                            done=follower._stop.set)  # fmt: skip
    monkeypatch.setattr(registry, "make_consumer", lambda settings, **config: consumer)

    follower._read()

    assert seen[:2] == [{b"a": b"1", b"b": b"1"}] * 2  # never half of the new read
    assert (follower.version, follower.latest) == (5, {b"a": b"1", b"c": b"1"})


def test_a_follower_whose_read_fails_keeps_what_it_has_and_reads_again(monkeypatch):
    follower = registry.Follower(SETTINGS, topics.RELEASES)
    follower.retry = RetryPolicy(first_s=0.001, max_s=0.001)
    consumers = iter([
        FakeConsumer([[(b"a", b"1")], ConnectionError("broker gone")], end=1),
        FakeConsumer([ConnectionError("still gone")], end=1),
        FakeConsumer([[(b"a", b"1")], [(b"b", b"1")]], end=1, done=follower._stop.set),
    ])  # fmt: skip
    monkeypatch.setattr(registry, "make_consumer", lambda settings, **config: next(consumers))
    follower.start()
    follower._thread.join(30)

    assert not follower._thread.is_alive()
    assert follower.latest == {b"a": b"1", b"b": b"1"}
    assert follower.version == 2  # the second session's a=1 was no change
    assert follower._failures == 0  # counted again from zero once it caught up


def test_stopping_a_follower_interrupts_its_wait_to_retry(monkeypatch):
    follower = registry.Follower(SETTINGS, topics.RELEASES)
    follower.retry = RetryPolicy(first_s=3600, max_s=3600)
    failed = threading.Event()

    def unreachable(settings, **config):
        failed.set()
        raise ConnectionError("no broker")

    monkeypatch.setattr(registry, "make_consumer", unreachable)
    follower.start()
    assert failed.wait(30)
    follower.stop(timeout_s=30)
    assert not follower._thread.is_alive()
    assert not follower.caught_up.is_set() and follower.latest == {}
