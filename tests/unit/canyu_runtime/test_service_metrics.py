"""The runtime's service metrics (canyu_runtime.metrics) and the lag and stall arithmetic (canyu_runtime.lag)."""

from __future__ import annotations

import configparser
import logging
from pathlib import Path
from types import SimpleNamespace

from kafka import TopicPartition
from kafka.admin import OffsetSpec
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry, generate_latest

from canyu import topics
from canyu.schema import DeadLetter
from canyu.settings import Settings
from canyu_runtime import lag
from canyu_runtime.dead_letters import message
from canyu_runtime.lag import LagCollector, PartitionLag, compute_lag, observe, stalled
from canyu_runtime.metrics import METRICS, ErrorCapture, ServiceMetrics, own_packages
from canyu_runtime.retry import RetryPolicy

A0, A1 = TopicPartition("posts.raw", 0), TopicPartition("posts.raw", 1)


def test_lag_is_end_minus_committed_or_minus_the_beginning_when_nothing_was_committed():
    lags = compute_lag({A0: 7}, beginning={A0: 0, A1: 3}, end={A1: 10, A0: 12})
    assert lags == [PartitionLag("posts.raw", 0, 7, 12, 5), PartitionLag("posts.raw", 1, None, 10, 7)]
    assert compute_lag({A0: 12}, {A0: 0}, {A0: 12})[0].lag == 0


def _lag(committed: int | None, lag_: int, partition: int = 0) -> PartitionLag:
    return PartitionLag("posts.raw", partition, committed, (committed or 0) + lag_, lag_)


def test_a_partition_is_stalled_once_it_lags_with_the_same_commit_for_stall_s():
    seen = observe({}, [_lag(5, 3)], now=100)
    assert seen == {"posts.raw:0": [5, 100]}
    seen = observe(seen, [_lag(5, 4)], now=150)  # more lag, same commit: the clock keeps running
    assert stalled(seen, [_lag(5, 4)], now=150, stall_s=60) == []
    assert stalled(seen, [_lag(5, 4)], now=160, stall_s=60) == [(_lag(5, 4), 60)]


def test_a_commit_or_an_empty_backlog_restarts_the_clock():
    seen = observe({"posts.raw:0": [5, 0]}, [_lag(6, 3)], now=100)  # the commit moved
    assert seen == {"posts.raw:0": [6, 100]}
    assert observe(seen, [_lag(6, 0)], now=200) == {}  # caught up: nothing to watch
    later = observe({}, [_lag(6, 2)], now=300)  # new records: the consumer gets stall_s from now
    assert stalled(later, [_lag(6, 2)], now=330, stall_s=60) == []


def test_a_consumer_is_not_blamed_for_the_time_before_it_started():
    seen = {"posts.raw:0": [5, 0]}
    assert stalled(seen, [_lag(5, 3)], now=100, stall_s=60, not_before=90) == []
    assert stalled(seen, [_lag(5, 3)], now=150, stall_s=60, not_before=90) == [(_lag(5, 3), 60)]


def test_processed_batches_are_counted_by_topic_with_their_latency_and_rate():
    metrics = ServiceMetrics()
    metrics.processed_batch(["posts.enriched", "alerts", "posts.enriched"], 0.2)
    text = generate_latest(metrics.registry).decode()
    assert 'canyu_processed_total{topic="posts.enriched"} 2.0' in text
    assert 'canyu_processed_total{topic="alerts"} 1.0' in text
    assert "canyu_batch_duration_seconds_count 1.0" in text
    assert metrics.total("processed") == 3
    assert metrics.rate(now=1000) == 0  # the first sample
    metrics.processed("alerts", 30)
    assert metrics.rate(now=1010) == 3.0  # 30 more in 10 s
    status = metrics.status(now=1010)
    assert status["processed"] == 33 and status["last_error"] is None


def test_every_dead_letter_and_every_retry_is_counted_once():
    dead_before, retried_before = METRICS.total("dead_lettered"), METRICS.total("retried")
    message(DeadLetter.of(b"{", stage="enrich", reason="not JSON", topic="posts.raw", partition=0, offset=1))
    failures = iter([OSError("down"), OSError("down")])

    def step():
        error = next(failures, None)
        if error:
            raise error
        return "done"

    assert RetryPolicy(first_s=0.001, max_s=0.001).call(step, what="a test", sleep=lambda s: None) == "done"
    assert METRICS.total("dead_lettered") == dead_before + 1
    assert METRICS.total("retried") == retried_before + 2


def test_the_last_error_is_canyus_warnings_and_the_libraries_errors():
    metrics = ServiceMetrics()
    handler = ErrorCapture(metrics)
    handler.handle(logging.LogRecord("aiokafka.consumer", logging.WARNING, "", 0, "heartbeat late", None, None))
    assert metrics.last_error is None  # a library's warning is its own business
    handler.handle(logging.LogRecord("sinks.base", logging.WARNING, "", 0, "commit refused %s", ("x",), None))
    assert metrics.last_error == "sinks.base: commit refused x"
    handler.handle(logging.LogRecord("faust.worker", logging.ERROR, "", 0, "crashed", None, None))
    assert metrics.last_error == "faust.worker: crashed" and metrics.last_error_at is not None


def test_lag_per_partition_is_a_gauge_read_at_each_scrape(monkeypatch):
    monkeypatch.setattr(lag, "group_lag", lambda settings, service: [_lag(5, 3), _lag(9, 0, partition=1)])
    registry = CollectorRegistry()
    registry.register(LagCollector(None, "worker", "canyu-enrich"))
    text = generate_latest(registry).decode()
    assert 'canyu_consumer_lag{group="canyu-enrich",partition="0",topic="posts.raw"} 3.0' in text
    assert 'canyu_consumer_lag{group="canyu-enrich",partition="1",topic="posts.raw"} 0.0' in text


def test_a_scrape_without_kafka_has_no_lag_rather_than_failing(monkeypatch):
    def unreachable(settings, service):
        raise OSError("no broker")

    monkeypatch.setattr(lag, "group_lag", unreachable)
    registry = CollectorRegistry()
    registry.register(LagCollector(None, "sink", "canyu-es-sink"))
    assert "canyu_consumer_lag{" not in generate_latest(registry).decode()


class OneRecordPerTopic:
    """A Kafka admin client whose every topic has one partition holding one record, and whose groups
    have committed nothing but ``committed``."""

    def __init__(self, names: list[str], committed: dict[TopicPartition, int]):
        self.names, self.committed = names, committed

    def list_group_offsets(self, groups):
        (group,) = groups
        return {group: {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self.committed.items()}}

    def list_topics(self):
        return self.names

    def describe_topics(self, names):
        return [{"name": name, "partitions": [{"partition_index": 0}]} for name in names]

    def list_partition_offsets(self, specs):
        return {tp: SimpleNamespace(offset=0 if spec == OffsetSpec.EARLIEST else 1) for tp, spec in specs.items()}


def test_a_services_lag_is_read_on_the_topics_it_reads_and_those_its_group_committed_on():
    settings = Settings(namespace="t.")
    names = [settings.topic(name) for name in topics.ALL] + ["t.posts.raw-old"]
    for service, reads in topics.READS.items():
        admin = OneRecordPerTopic(names, committed={TopicPartition("t.posts.raw-old", 0): 1})
        lags = lag.group_lag(settings, service, admin=admin)
        assert {p.topic for p in lags} == {settings.topic(name) for name in reads} | {"t.posts.raw-old"}
        assert {p.topic for p in lags if p.lag} == {settings.topic(name) for name in reads}


def test_every_package_of_canyu_logs_as_canyus_own():
    """The last error keeps canyu's own warnings: the packages come from the installed distribution,
    and must be every package the layering rules know (.importlinter's root packages) but training,
    which no service runs and which is not installed (tests/unit/training/test_not_installed.py)."""
    rules = configparser.ConfigParser()
    rules.read(Path(__file__).resolve().parents[3] / ".importlinter")
    assert set(rules["importlinter"]["root_packages"].split()) - {"training"} <= own_packages()
