"""Poison records on the real stack: each one ends up in the DLQ with a reason, or indexed, and the
pipeline keeps going: a normal post published after them all is indexed.

Edge-of-calendar dates, dates far and a little in the future, values that are not JSON or
null, and records near Kafka's size limit, first into the worker (``posts.raw``), then
straight into the sink (``posts.enriched``), which once retried a post dated year 1
forever and indexed nothing after it.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from urllib.request import urlopen

from canyu import topics
from canyu.schema import DeadLetter
from canyu_runtime.elastic import client
from canyu_runtime.kafka_clients import make_producer
from tests.integration.conftest import free_port, read_topic, running, wait_for
from tests.integration.sinks.test_index import enriched

NOW = datetime.now(timezone.utc)
BIG = 900_000  # under Kafka's 1 MiB limit; as a dead letter, base64 would be over it


def raw_post(key: str, **changes) -> bytes:
    fields = {"id": key, "source": "forum", "text": f"battery drains fast {key}", "author": {"id": "a"},
              "created_at": NOW.isoformat(), "fetched_at": NOW.isoformat()}  # fmt: skip
    return json.dumps({**fields, **changes}).encode()


# key → value; every one of them must be indexed or dead-lettered with a reason
POISON = {
    "forum:year1": raw_post("forum:year1", created_at="0001-01-01T00:00:00+05:00"),
    "forum:year9999": raw_post("forum:year9999", created_at="9999-12-31T23:59:59-05:00"),
    "forum:year2999": raw_post("forum:year2999", created_at="2999-01-01T00:00:00Z"),
    "forum:fetched2999": raw_post(
        "forum:fetched2999", created_at="2999-01-01T00:00:00Z", fetched_at="2999-01-01T00:00Z"
    ),
    "forum:1999": raw_post("forum:1999", created_at="1999-12-31T23:59:59Z"),
    "forum:hours-ahead": raw_post("forum:hours-ahead", created_at=(NOW + timedelta(hours=3)).isoformat()),
    "forum:not-json": b"\xff\xfe this is not JSON {",
    "forum:json-null": b"null",
    "forum:null-fields": raw_post("forum:null-fields", text=None, author=None),
    "forum:null-value": None,
    "forum:big-text": raw_post("forum:big-text", text="battery " * (BIG // 8)),
    "forum:big-garbage": b"x" * BIG,
    "forum:near-limit": raw_post("forum:near-limit", text="b" * 1_040_000),  # over it once enriched
    "forum:big-author-id": raw_post("forum:big-author-id", author={"id": "a" * 40_000}),  # over Lucene's term limit
}
SINK_POISON = {
    "forum:sink-year1": enriched(1, id="forum:sink-year1", created_at="0001-01-01T00:00:00+05:00"),
    "forum:sink-year2999": enriched(2, id="forum:sink-year2999", created_at="2999-01-01T00:00:00Z"),
}


def indexed_ids(settings) -> set[str]:
    with client(settings) as es:
        es.indices.refresh(index=settings.posts_alias)
        hits = es.search(index=settings.posts_alias, size=100, source=False)["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def dead_letters(settings) -> dict[str, DeadLetter]:
    records = read_topic(settings, settings.topic(topics.DEAD_LETTERS))
    return {letter.key: letter for letter in (DeadLetter.model_validate_json(r.value) for r in records)}


def test_poison_records_are_dead_lettered_or_indexed_and_the_pipeline_keeps_going(ns, tmp_path):
    settings = ns.replace(classifier="lexicon", worker_web_port=free_port())
    producer = make_producer(settings)
    for key, value in POISON.items():
        producer.send(settings.topic(topics.POSTS_RAW), key=key.encode(), value=value).get(timeout=30)
    for key, post in SINK_POISON.items():
        value = post.model_dump_json().encode()
        producer.send(settings.topic(topics.POSTS_ENRICHED), key=key.encode(), value=value).get(timeout=30)
    with running("worker", settings, tmp_path), running("sink", settings, tmp_path):
        # published after every poison record, on every partition of posts.raw
        for n in range(settings.kafka.topic_partitions * 2):
            producer.send(settings.topic(topics.POSTS_RAW), key=f"forum:after-{n}".encode(),
                          value=raw_post(f"forum:after-{n}")).get(timeout=30)  # fmt: skip
        producer.close()
        after = {f"forum:after-{n}" for n in range(settings.kafka.topic_partitions * 2)}
        wait_for(lambda: after <= indexed_ids(settings), timeout=180, what="the posts published after the poison")
        expected = set(POISON) | set(SINK_POISON)
        wait_for(lambda: expected <= indexed_ids(settings) | set(dead_letters(settings)), timeout=60,
                 what="every poison record indexed or dead-lettered")  # fmt: skip
        with urlopen(f"http://127.0.0.1:{settings.worker.web_port}/signals/", timeout=10) as r:
            clock = json.load(r)

    indexed, letters = indexed_ids(settings), dead_letters(settings)
    assert not indexed & set(letters), "a record both indexed and dead-lettered"
    assert all(letters[key].reason for key in letters)
    for key in ("forum:year1", "forum:year9999", "forum:year2999", "forum:fetched2999", "forum:1999"):
        assert "outside the sane window" in letters[key].reason, key
        assert letters[key].stage == "enrich" and letters[key].source == "forum"
    for key in SINK_POISON:
        assert letters[key].stage == "sink" and "outside the sane window" in letters[key].reason
    assert "forum:hours-ahead" in indexed and "forum:big-text" in indexed
    assert letters["forum:null-value"].stage == "enrich" and letters["forum:null-value"].raw() == b""
    assert "rejected by Elasticsearch" in letters["forum:big-author-id"].reason
    assert "once enriched" in letters["forum:near-limit"].reason
    big = letters["forum:big-garbage"]
    assert big.raw() == POISON["forum:big-garbage"][: len(big.raw())] and "bytes" in big.reason

    # nothing moved on a date outside the window: no index far away, a watermark not in the future
    with client(settings) as es:
        months = sorted(es.indices.get(index=f"{settings.posts_alias}-*").body)
    assert all(m.rsplit("-", 1)[1] in {NOW.strftime("%Y.%m"), (NOW + timedelta(hours=3)).strftime("%Y.%m")}
               for m in months), months  # fmt: skip
    assert clock["watermark"] <= time.time() + 60 and clock["late"] in (None, 0)
