"""Posts that arrive one by one are written in batches, not each in a write of its own."""

from __future__ import annotations

import re
import time

from canyu import topics
from canyu_runtime.kafka_clients import make_producer
from tests.integration.conftest import count_docs, running, wait_for
from tests.integration.sinks.test_index import enriched

TRICKLE = 100
GAP_S = 0.04  # between two posts: far longer than the sink takes to write one


def test_a_steady_trickle_of_posts_is_written_in_few_batches(ns, tmp_path):
    producer = make_producer(ns)
    topic = ns.topic(topics.POSTS_ENRICHED)

    def publish(i: int) -> None:
        post = enriched(i)
        producer.send(topic, key=post.id.encode(), value=post.model_dump_json().encode())
        producer.flush()

    with running("sink", ns, tmp_path):
        publish(0)
        wait_for(lambda: count_docs(ns) == 1, what="the sink to index a first post")
        for i in range(1, TRICKLE + 1):
            publish(i)
            time.sleep(GAP_S)
        wait_for(lambda: count_docs(ns) == TRICKLE + 1, what=f"all {TRICKLE} posts of the trickle indexed")
    producer.close()
    writes = [int(n) for n in re.findall(r"(\d+) indexed,", (tmp_path / "sink.log").read_text())]
    assert sum(writes[1:]) == TRICKLE
    # One write per post, as each fetch brought one, would be 100; Kafka holding each fetch
    # for sink_fetch_wait_s (0.2 s) gives about 4 s / 0.2 s = 20.
    assert len(writes) - 1 <= TRICKLE // 3, f"{len(writes) - 1} writes for {TRICKLE} posts"
