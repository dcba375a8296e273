"""What ``streams.app.create_app`` configures beyond the agents."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import AIOKafkaConsumer
from mode.utils.queues import FlowControlQueue

from canyu import topics
from canyu.settings import Settings
from streams.app import ROCKSDB_OPTIONS, SMALLEST_POST_BYTES, create_app
from streams.signals import Tables
from streams.transport import FETCH_WAIT_MS


def test_every_table_opens_rocksdb_with_bounded_memory_and_sharp_bloom_filters(tmp_path):
    app = create_app(Settings(home=tmp_path, classifier="lexicon"))  # the default store: rocksdb://
    for name in Tables.__dataclass_fields__:
        options = app.tables[f"state-{name}"].data.rocksdb_options
        assert options.write_buffer_size == ROCKSDB_OPTIONS["write_buffer_size"] == 8 << 20
        assert options.max_write_buffer_number == 2
        assert options.block_cache_size == ROCKSDB_OPTIONS["block_cache_size"] == 16 << 20
        assert options.bloom_filter_size == 10


@pytest.mark.parametrize("partitions", [1, 4, 12])
def test_a_stream_buffer_takes_a_whole_fetch_after_faust_pauses_it(tmp_path, partitions):
    """Faust delivers what it has fetched for a paused partition; were the buffer full by then, the
    records of every other stream would wait behind it."""
    conf = create_app(Settings(home=tmp_path, classifier="lexicon", topic_partitions=partitions)).conf
    paused_at = conf.stream_buffer_maxsize / FlowControlQueue.pressure_high_ratio
    one_fetch = partitions * conf.consumer_max_fetch_size / SMALLEST_POST_BYTES
    assert conf.stream_buffer_maxsize - paused_at >= one_fetch


def test_each_agent_reads_the_topic_that_canyu_topics_gives_it(tmp_path):
    app = create_app(Settings(home=tmp_path, classifier="lexicon", classifier_process=False, namespace="t."))
    read = {name: agent.channel.get_topic_name() for name, agent in app.agents.items()}
    assert read == {name: f"t.{topic}" for name, topic in topics.WORKER_READS.items()}
    assert app.agents["signals"].channel.partitions == 1  # posts.classified: the stateful step sees every post


def test_the_workers_consumer_asks_the_broker_to_hold_a_fetch_briefly(tmp_path):
    """Faust's driver asks for 1.5 s; with one fetch in flight per broker, the stateful step waited
    that long for posts.classified whenever the other partitions were quiet (streams.transport)."""
    app = create_app(Settings(home=tmp_path, classifier="lexicon", classifier_process=False))

    async def fetch_wait_ms() -> int:
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        await consumer.stop()  # never started: this only closes its client
        return consumer._fetch_max_wait_ms  # what aiokafka's fetcher is made with on start

    assert asyncio.run(fetch_wait_ms()) == FETCH_WAIT_MS <= 100


def test_the_worker_says_so_when_aiokafka_no_longer_has_the_fetch_wait(tmp_path, monkeypatch, caplog):
    app = create_app(Settings(home=tmp_path, classifier="lexicon", classifier_process=False))
    created = AIOKafkaConsumer.__init__

    def without_the_attribute(self, *args, **kwargs):
        created(self, *args, **kwargs)
        del self._fetch_max_wait_ms

    monkeypatch.setattr(AIOKafkaConsumer, "__init__", without_the_attribute)

    async def make() -> None:
        await app.consumer._thread._create_worker_consumer(app.transport).stop()

    with caplog.at_level(logging.WARNING, logger="streams.transport"):
        asyncio.run(make())
    assert "no _fetch_max_wait_ms" in caplog.text
