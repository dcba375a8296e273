"""The sink loses nothing when Elasticsearch is stopped for 20 s, or when the sink itself is killed.

The outage test stops a node, so it runs on a private Elasticsearch on free ports with
its own home, never on the shared one; Kafka is the shared broker, in the test's namespace.
"""

from __future__ import annotations

import time
import uuid

from canyu import topics
from canyu_cli.stack.servers import servers
from canyu_runtime.elastic import client
from canyu_runtime.kafka_clients import ensure_topics, make_producer
from canyu_runtime.migrations import migrate
from tests.integration.conftest import committed_everything, count_docs, free_port, read_topic, running, wait_for
from tests.integration.sinks.test_index import enriched

OUTAGE_S = 20


def publish(settings, first: int, n: int) -> None:
    producer = make_producer(settings)
    topic = settings.topic(topics.POSTS_ENRICHED)
    for i in range(first, first + n):
        post = enriched(i)
        producer.send(topic, key=post.id.encode(), value=post.model_dump_json().encode())
    producer.flush()
    producer.close()


def test_the_sink_rides_out_an_elasticsearch_outage_and_loses_nothing(stack, tmp_path):
    private = stack.replace(
        namespace=f"o{uuid.uuid4().hex[:10]}.",
        home=tmp_path / "home",
        es_heap="512m",
        es_url=f"http://127.0.0.1:{free_port()}",
        es_transport_port=free_port(),
    )
    (node,) = [server for server in servers(private) if server.name == "elasticsearch"]
    node.up()
    try:
        ensure_topics(private)
        with client(private) as es:
            migrate(es, private)
        with running("sink", private, tmp_path) as sink:
            publish(private, 0, 200)
            wait_for(lambda: count_docs(private) == 200, what="200 posts indexed before the outage")

            assert node.down()
            publish(private, 200, 300)  # arrives while Elasticsearch is away
            time.sleep(OUTAGE_S)
            assert sink.poll() is None, "the sink gave up during the outage"
            assert not committed_everything(private, private.sink_group, private.topic(topics.POSTS_ENRICHED))

            node.up()
            wait_for(lambda: count_docs(private) == 500, timeout=120, what="all 500 posts indexed after the outage")
            wait_for(lambda: committed_everything(private, private.sink_group, private.topic(topics.POSTS_ENRICHED)),
                     what="the sink to commit everything")  # fmt: skip
            assert sink.poll() is None
        assert read_topic(private, private.topic(topics.DEAD_LETTERS)) == []
        assert "retrying" in (tmp_path / "sink.log").read_text()
    finally:
        node.down()


def test_a_sink_killed_mid_stream_loses_nothing_when_it_starts_again(ns, tmp_path):
    publish(ns, 0, 3000)
    with running("sink", ns, tmp_path) as sink:
        wait_for(lambda: count_docs(ns) > 0, what="the first batch indexed")
        sink.kill()  # no goodbye: whatever was written but not committed is read again
        sink.wait()
    (tmp_path / "sink.log").rename(tmp_path / "killed-sink.log")
    with running("sink", ns, tmp_path):
        wait_for(lambda: count_docs(ns) == 3000, what="all 3000 posts indexed after the restart")
        wait_for(lambda: committed_everything(ns, ns.sink_group, ns.topic(topics.POSTS_ENRICHED)),
                 what="the sink to commit everything")  # fmt: skip
    assert read_topic(ns, ns.topic(topics.DEAD_LETTERS)) == []
