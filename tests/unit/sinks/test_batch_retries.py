"""A sink retries a failed batch under the one retry policy: until it is written, stopped, or misconfigured."""

from __future__ import annotations

import threading
import time

import pytest
from kafka.errors import KafkaConnectionError, RebalanceInProgressError

from canyu.settings import Settings
from canyu_runtime.errors import Misconfigured, Permanent
from canyu_runtime.retry import RetryPolicy
from sinks import base
from sinks.base import BatchSink
from tests.unit.canyu_runtime.test_retry import Flaky, ShutdownDuringWait


class Sink(BatchSink):
    retry = RetryPolicy(first_s=0.01, max_s=0.02)

    def write(self, batch) -> None:
        pass


@pytest.fixture
def sink(tmp_path):
    return Sink(Settings(home=tmp_path), ["t"], "g")


def test_a_failing_batch_is_tried_again_until_it_is_written(sink, caplog):
    step = Flaky(failures=4)
    sink._until_done(step, "writing 3 records", threading.Event())
    assert step.calls == 5
    assert "sink: writing 3 records failed (connection refused); retrying" in caplog.text


def test_a_misconfigured_sink_stops_at_once(sink):
    step = Flaky(failures=1, error=Misconfigured("no such analysis"))
    with pytest.raises(Misconfigured):
        sink._until_done(step, "preparing", threading.Event())
    assert step.calls == 1


def test_a_stop_during_the_backoff_ends_the_retries_promptly(sink):
    sink.retry = RetryPolicy(first_s=60.0, max_s=60.0)
    step = Flaky(failures=10)
    stop = ShutdownDuringWait()
    sink._until_done(step, "writing", stop)  # returns, with the batch unwritten, for run() to stop
    assert step.calls == 1 and len(stop.waits) == 1 and 30.0 <= stop.waits[0] <= 60.0  # the backoff, interrupted


def test_nothing_is_tried_once_stopped(sink):
    step = Flaky(failures=0)
    stop = threading.Event()
    stop.set()
    sink._until_done(step, "preparing", stop)
    assert step.calls == 0


class Picky(BatchSink):
    """Writes every record but one, which it can never write."""

    def __init__(self, settings):
        super().__init__(settings, ["t"], "g")
        self.written, self.letters = [], []

    def write(self, batch) -> None:
        if "bad" in batch:
            raise Permanent("that record can never be written")
        self.written += batch

    def dead_letter(self, record, reason):
        return (record, reason)

    def send_dead_letters(self, letters) -> None:
        self.letters += letters


def test_a_batch_that_can_never_be_written_is_split_until_only_the_record_at_fault_is_set_aside(tmp_path):
    sink = Picky(Settings(home=tmp_path))
    batch = [f"r{i}" for i in range(10)]
    batch[7] = "bad"
    sink._until_done(lambda: sink.write_or_split(batch), "writing 10 records", threading.Event())
    assert sorted(sink.written) == sorted(r for r in batch if r != "bad")
    assert sink.letters == [("bad", "that record can never be written")]


def test_a_misconfigured_sink_is_never_split(tmp_path):
    sink = Picky(Settings(home=tmp_path))
    calls = []

    def write(batch):
        calls.append(batch)
        raise Misconfigured("no such analysis")

    sink.write = write
    with pytest.raises(Misconfigured):
        sink.write_or_split(["a", "b"])
    assert calls == [["a", "b"]]


class Consumer:
    """Polls one batch, then nothing; its first commits fail as they do while Kafka restarts and the
    group rebalances. A rebalance finishes only in a poll."""

    def __init__(self, stop: threading.Event, errors: list[Exception]):
        self.stop, self.errors, self.commits, self.polls = stop, errors, [], 0

    def poll(self, timeout_ms: int) -> dict:
        self.polls += 1
        if self.commits:
            self.stop.set()
        return {"tp": [Record("t", 0, 41), Record("t", 1, 7)]} if self.polls == 1 else {}

    def commit(self, offsets) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.commits.append({tp.partition: meta.offset for tp, meta in offsets.items()})

    def close(self, autocommit: bool) -> None:
        pass


class Record:
    def __init__(self, topic: str, partition: int, offset: int):
        self.topic, self.partition, self.offset = topic, partition, offset


def test_a_commit_that_kafka_cannot_take_is_tried_again_after_the_next_poll_and_the_sink_goes_on(sink, caplog):
    stop = threading.Event()
    errors = [KafkaConnectionError("111 ECONNREFUSED"), RebalanceInProgressError(), KafkaConnectionError("again")]
    consumer = Consumer(stop, errors)
    sink._consumer = lambda: consumer
    sink.run(stop)
    assert consumer.commits == [{0: 42, 1: 8}]
    assert consumer.polls == 5  # one poll between tries: a rebalance in progress can finish
    assert "committing failed (KafkaConnectionError: 111 ECONNREFUSED); trying again after the next poll" in caplog.text


class StuckInARebalance(Consumer):
    """Polls one batch, then nothing; every commit meets a rebalance in progress."""

    def __init__(self):
        super().__init__(threading.Event(), [])
        self.closed = []

    def poll(self, timeout_ms: int) -> dict:
        time.sleep(0.01)
        return super().poll(timeout_ms)

    def commit(self, offsets) -> None:
        raise RebalanceInProgressError()

    def close(self, autocommit: bool) -> None:
        self.closed.append(autocommit)


def test_a_rebalance_that_never_finishes_is_given_up_for_a_new_consumer(sink, caplog, monkeypatch):
    """kafka-python 3.0 now and then never completes a rebalance: commits would meet it for good."""
    monkeypatch.setattr(base, "REJOIN_AFTER_S", 0.05)
    stop = threading.Event()
    stuck, fresh = StuckInARebalance(), Consumer(stop, [])
    consumers = [stuck, fresh]
    sink._consumer = lambda: consumers.pop(0)
    sink.run(stop)
    assert stuck.closed == [False] and not consumers  # closed without committing; the new one used
    assert fresh.commits == [{0: 42, 1: 8}]  # the new consumer read the batch again and committed it
    assert "a rebalance unfinished after 0 s; joining the group again with a new consumer" in caplog.text
