"""The index on the real Elasticsearch node: templates, versions, retention, forget-author, search."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from elasticsearch import Elasticsearch
from kafka.consumer.fetcher import ConsumerRecord

from canyu import topics
from canyu.schema import Alert, Cascade, EnrichedPost, FeedbackItem
from canyu_runtime.elastic import client
from canyu_runtime.kafka_clients import ensure_topics
from canyu_runtime.migrations import migrate
from sinks.elasticsearch import ElasticsearchSink
from sinks.retention import REMOVED_TITLE, Forgotten, forget_author
from tests.integration.conftest import count_docs, env_for, forget_namespace, read_topic

NOW = datetime.now(timezone.utc)


def enriched(n: int, **changes) -> EnrichedPost:
    fields = dict(
        id=f"forum:{n}", source="forum", text=f"battery drains fast #{n}", language="en",
        created_at=NOW, fetched_at=NOW, author={"id": f"user{n % 3}"}, engagement={"likes": 1},
        sentiment={"label": "negative", "scores": {"negative": 0.9}}, intent={"label": "bug_report", "scores": {}},
        topics=[{"id": "battery", "score": 0.8}], products=["p9"], classifier="lexicon-1",
    )  # fmt: skip
    return EnrichedPost(**{**fields, **changes})


def record(topic: str, value: bytes | None, offset: int = 0) -> ConsumerRecord:
    return ConsumerRecord(topic, 0, -1, offset, 0, 0, b"k", value, [], None, 1, len(value or b""), -1)


@pytest.fixture
def ns(stack):
    """Here a namespace lives on Elasticsearch alone, a quicker set-up; ``kafka_sink`` adds its topics."""
    settings = stack.replace(namespace=f"t{uuid.uuid4().hex[:10]}.")
    yield settings
    forget_namespace(settings)


def _sink(settings):
    es_sink = ElasticsearchSink(settings)
    es_sink.prepare()
    yield es_sink
    es_sink.close()


@pytest.fixture
def sink(ns):
    """A sink for tests that never make dead letters, so never reach Kafka."""
    yield from _sink(ns)


@pytest.fixture
def kafka_sink(ns):
    ensure_topics(ns)
    yield from _sink(ns)


def index_docs(sink: ElasticsearchSink, topic_name: str, docs: list) -> None:
    topic = sink.settings.topic(topic_name)
    sink.write([record(topic, d.model_dump_json().encode(), i) for i, d in enumerate(docs)])


def index_posts(sink: ElasticsearchSink, posts: list[EnrichedPost]) -> None:
    index_docs(sink, topics.POSTS_ENRICHED, posts)


def canyu(ns, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "canyu_cli", *args], env=env_for(ns), capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_templates_and_aliases_round_trip_and_migrate_is_idempotent(ns, sink):
    with client(ns) as es:
        first = sorted(es.indices.get_alias(index=f"{ns.namespace}*").body)
        again = migrate(es, ns)
        assert sorted(es.indices.get_alias(index=f"{ns.namespace}*").body) == first
        assert any("1 existing index" in line for line in again)

        old = enriched(1, created_at=datetime(2025, 3, 9, tzinfo=timezone.utc))
        index_posts(sink, [old, enriched(2)])
        march = f"{ns.posts_alias}-2025.03"
        assert es.indices.get_alias(index=march).body[march]["aliases"] == {ns.posts_alias: {}}
        mapping = es.indices.get_mapping(index=march).body[march]["mappings"]
        assert mapping["dynamic"] == "false"
        assert mapping["properties"]["text"]["analyzer"] == "canyu_text"
        analyzer = es.indices.get_settings(index=march).body[march]["settings"]["index"]["analysis"]["analyzer"]
        assert analyzer["canyu_text"]["type"] == "standard"
        assert count_docs(ns) == 2
        # an unmapped field stays in _source but is not searchable: dynamic false
        es.index(index=march, id="forum:x", document={"id": "forum:x", "surprise": "boo"}, refresh=True)
        assert es.count(index=ns.posts_alias, query={"match": {"surprise": "boo"}})["count"] == 0
        for name in (ns.alerts_alias, ns.feedback_alias, ns.cascades_alias):
            (index,) = es.indices.get_alias(name=name).body
            assert es.indices.get_alias(name=name).body[index]["aliases"][name] == {"is_write_index": True}


def test_reindexing_gives_the_same_count_a_newer_fetch_updates_and_an_older_one_is_refused(ns, kafka_sink):
    posts = [enriched(i) for i in range(20)]
    index_posts(kafka_sink, posts)
    index_posts(kafka_sink, posts)
    assert count_docs(ns) == 20

    later, earlier = NOW + timedelta(hours=1), NOW - timedelta(hours=1)
    index_posts(kafka_sink, [enriched(0, fetched_at=later, engagement={"likes": 50})])
    index_posts(kafka_sink, [enriched(0, fetched_at=earlier, engagement={"likes": 7})])
    assert count_docs(ns) == 20  # and refreshed
    with client(ns) as es:
        doc = es.search(index=ns.posts_alias, query={"term": {"id": "forum:0"}})["hits"]["hits"]
    assert len(doc) == 1 and doc[0]["_source"]["engagement"]["likes"] == 50
    assert read_topic(ns, ns.topic(topics.DEAD_LETTERS)) == []  # a stale fetch is not a dead letter


def test_invalid_records_and_documents_elasticsearch_rejects_go_to_the_dlq_and_the_rest_is_indexed(ns, kafka_sink):
    topic = ns.topic(topics.POSTS_ENRICHED)
    too_long_id = enriched(1, id="forum:" + "x" * 600)  # Elasticsearch refuses ids over 512 bytes
    kafka_sink.write_or_split([  # as the run loop does: a refused request is split
        record(topic, enriched(1).model_dump_json().encode(), 0),
        record(topic, b'{"id": "forum:2"}', 1),
        record(topic, too_long_id.model_dump_json().encode(), 2),
        record(topic, None, 3),  # a tombstone
        record(topic, enriched(4).model_dump_json().encode(), 4),
    ])  # fmt: skip
    assert count_docs(ns) == 2
    letters = [json.loads(r.value) for r in read_topic(ns, ns.topic(topics.DEAD_LETTERS))]
    reasons = sorted((letter["offset"], letter["reason"]) for letter in letters)
    assert [offset for offset, _ in reasons] == [1, 2, 3]
    assert "not a valid EnrichedPost: source: Field required" in reasons[0][1]
    assert "rejected by Elasticsearch" in reasons[1][1] and "512" in reasons[1][1]
    assert "not a valid EnrichedPost" in reasons[2][1]


def test_feedback_items_keep_their_latest_update(ns, sink):
    item = FeedbackItem(id="fb1", title="Wi-Fi drops after update", intent="bug_report", count=3, unique_authors=2,
                        first_seen=NOW, last_seen=NOW, updated_at=NOW)  # fmt: skip
    topic = ns.topic(topics.FEEDBACK_ITEMS)
    newer = item.model_copy(update={"count": 9, "updated_at": NOW + timedelta(minutes=5)})
    sink.write([record(topic, newer.model_dump_json().encode(), 0), record(topic, item.model_dump_json().encode(), 1)])
    with client(ns) as es:
        es.indices.refresh(index=ns.feedback_alias)
        hits = es.search(index=ns.feedback_alias, query={"match": {"title": "wi-fi"}})["hits"]["hits"]
    assert [(h["_id"], h["_source"]["count"]) for h in hits] == [("fb1", 9)]


def alert(id_: str, sampled: list[EnrichedPost], **changes) -> Alert:
    fields = dict(id=id_, kind="spike", key="topic=battery", window_start=NOW, window_end=NOW, observed=9,
                  baseline_mean=1, baseline_std=1, threshold=4, sample_post_ids=[p.id for p in sampled],
                  samples=[p.text for p in sampled], created_at=NOW)  # fmt: skip
    return Alert(**{**fields, **changes})


def item(id_: str, title: str, samples: list[EnrichedPost]) -> FeedbackItem:
    return FeedbackItem(id=id_, title=title, intent="bug_report", count=len(samples), unique_authors=2, first_seen=NOW,
                        last_seen=NOW, sample_post_ids=[p.id for p in samples], updated_at=NOW)  # fmt: skip


def cascade(root: EnrichedPost, *amplifiers: str) -> Cascade:
    return Cascade(root_id=root.id, root_author_id=root.author.id, reposts=len(amplifiers), depth=1, reach=0,
                   velocity=1, top_amplifiers=[{"author_id": a, "reposts": 1} for a in amplifiers], first_seen=NOW,
                   updated_at=NOW)  # fmt: skip


def sources(ns, alias: str) -> dict[str, dict]:
    with client(ns) as es:
        es.indices.refresh(index=alias)
        return {h["_id"]: h["_source"] for h in es.search(index=alias, size=100)["hits"]["hits"]}


def test_forget_author_deletes_their_posts_everywhere_and_scrubs_alerts_feedback_and_cascades(ns, sink):
    months = [NOW, datetime(2025, 1, 5, tzinfo=timezone.utc), datetime(2024, 6, 1, tzinfo=timezone.utc)]
    posts = [enriched(i, created_at=months[i % 3]) for i in range(30)]  # authors user0..user2
    other_source = enriched(99, id="weibo:99", source="weibo", author={"id": "user0"})  # another person
    index_posts(sink, [*posts, other_source])
    theirs = sum(1 for p in posts if p.author.id == "user0")
    mine, kept, also_mine = posts[0], posts[1], posts[3]  # user0, user1, user0
    alerts = [alert("mixed", [kept, mine, posts[2], also_mine]), alert("clean", [kept, other_source]),
              alert("viral", [mine], kind="viral", samples=[])]  # fmt: skip
    items = [item("their-title", mine.text, [mine, kept]), item("other-title", kept.text, [kept, also_mine]),
             item("clean", other_source.text, [other_source, kept])]  # fmt: skip
    cascades = [cascade(mine, "user1", "user0"), cascade(kept, "user0", "user2"), cascade(other_source, "user0")]
    index_docs(sink, topics.ALERTS, alerts)
    index_docs(sink, topics.FEEDBACK_ITEMS, items)
    index_docs(sink, topics.CASCADES, cascades)

    result = canyu(ns, "index", "forget-author", "forum", "user0")
    assert result.returncode == 0, result.stderr
    assert f"deleted {theirs} post(s)" in result.stdout
    assert "scrubbed 2 alert(s), 2 feedback item(s), 2 cascade(s)" in result.stdout
    with client(ns) as es:
        assert es.count(index=ns.posts_alias, query={"term": {"author.id": "user0"}})["count"] == 1  # the weibo one
    assert count_docs(ns) == 31 - theirs

    found = sources(ns, ns.alerts_alias)
    assert found["mixed"]["sample_post_ids"] == [kept.id, posts[2].id]
    assert found["mixed"]["samples"] == [kept.text, posts[2].text]  # each text still beside its id
    assert found["viral"]["sample_post_ids"] == [] and found["viral"]["samples"] == []
    assert found["clean"] == alerts[1].model_dump(mode="json")
    found = sources(ns, ns.feedback_alias)
    assert found["their-title"]["title"] == REMOVED_TITLE and found["their-title"]["sample_post_ids"] == [kept.id]
    assert found["other-title"]["title"] == kept.text and found["other-title"]["sample_post_ids"] == [kept.id]
    assert found["clean"] == items[2].model_dump(mode="json")
    found = sources(ns, ns.cascades_alias)
    assert found[mine.id]["root_author_id"] is None
    assert [a["author_id"] for a in found[mine.id]["top_amplifiers"]] == ["user1"]
    assert found[kept.id]["root_author_id"] == "user1"
    assert [a["author_id"] for a in found[kept.id]["top_amplifiers"]] == ["user2"]
    assert found[other_source.id] == cascades[2].model_dump(mode="json")  # weibo's user0 is someone else

    # A re-delivery of what the worker sent is stale now; its next real update still lands.
    index_docs(sink, topics.ALERTS, alerts)
    later = item("other-title", "battery drains again", [kept]).model_copy(update={"updated_at": NOW + timedelta(1)})
    index_docs(sink, topics.FEEDBACK_ITEMS, [*items, later])
    assert sources(ns, ns.alerts_alias)["mixed"]["sample_post_ids"] == [kept.id, posts[2].id]
    found = sources(ns, ns.feedback_alias)
    assert found["their-title"]["title"] == REMOVED_TITLE and found["other-title"]["title"] == "battery drains again"

    again = canyu(ns, "index", "forget-author", "forum", "user0").stdout
    assert "deleted 0 post(s)" in again and "scrubbed 0 alert(s), 0 feedback item(s), 0 cascade(s)" in again


def test_forget_author_scrubs_again_a_document_the_sink_changed_between_the_read_and_the_write(ns, sink, monkeypatch):
    mine, kept, newcomer = enriched(0), enriched(1), enriched(4)  # user0, user1, user1
    index_posts(sink, [mine, kept, newcomer])
    index_docs(sink, topics.FEEDBACK_ITEMS, [item("fb", mine.text, [mine, kept])])
    newer = item("fb", mine.text, [mine, kept, newcomer]).model_copy(update={"updated_at": NOW + timedelta(1)})
    pending, read = [newer], Elasticsearch.mget

    def read_then_sink_writes(self, **kwargs):
        response = read(self, **kwargs)
        if pending:
            index_docs(sink, topics.FEEDBACK_ITEMS, [pending.pop()])
        return response

    monkeypatch.setattr(Elasticsearch, "mget", read_then_sink_writes)
    with client(ns) as es:
        assert forget_author(es, ns, "forum", "user0") == Forgotten(posts=1, feedback_items=1)
    found = sources(ns, ns.feedback_alias)["fb"]
    assert found["sample_post_ids"] == [kept.id, newcomer.id] and found["count"] == 3  # the newer one, scrubbed
    assert found["title"] == REMOVED_TITLE


def test_retention_drops_whole_months_older_than_the_cutoff(ns, sink):
    old, older = datetime(2025, 6, 15, tzinfo=timezone.utc), datetime(2024, 1, 15, tzinfo=timezone.utc)
    index_posts(sink, [enriched(1, created_at=older), enriched(2, created_at=old), enriched(3)])
    cutoff = (NOW - timedelta(days=400)).date()
    expected_drops = {f"{ns.posts_alias}-2024.01"} | ({f"{ns.posts_alias}-2025.06"} if cutoff >= old.date().replace(
        month=7, day=1) else set())  # fmt: skip

    dry = canyu(ns, "index", "retention", "--older-than", "400d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert all(f"would drop {index}" in dry.stdout for index in expected_drops)
    assert count_docs(ns) == 3

    wet = canyu(ns, "index", "retention", "--older-than", "400d")
    assert wet.returncode == 0, wet.stderr
    with client(ns) as es:
        left = set(es.indices.get_alias(name=ns.posts_alias).body)
    assert left.isdisjoint(expected_drops) and ns.posts_alias + NOW.strftime("-%Y.%m") in left
    assert count_docs(ns) == 3 - len(expected_drops)

    bad = canyu(ns, "index", "retention", "--older-than", "a while")
    assert bad.returncode == 1 and "7d" in bad.stderr


def test_search_filters_and_aggregates(ns, sink):
    posts = [enriched(i, language="ko" if i % 2 else "en", sentiment={"label": "positive" if i < 4 else "negative",
             "scores": {}}, created_at=NOW - timedelta(days=i % 3)) for i in range(10)]  # fmt: skip
    index_posts(sink, posts)
    count_docs(ns)  # refreshes

    found = canyu(ns, "search", "battery", "--lang", "en", "--sentiment", "negative", "--agg", "terms:topic",
                  "--agg", "date:day", "--since", "7d", "--json")  # fmt: skip
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    expected = [p for p in posts if p.language == "en" and p.sentiment.label == "negative"]
    assert result["total"] == len(expected) == 3
    assert result["aggs"]["terms:topic"] == {"battery": 3}
    assert sum(result["aggs"]["date:day"].values()) == 3

    table = canyu(ns, "search", "*", "--agg", "terms:lang")
    assert table.returncode == 0, table.stderr
    assert "10 matching posts" in table.stdout and "terms:lang" in table.stdout

    wrong = canyu(ns, "search", "x", "--intent", "rant")
    assert wrong.returncode == 1 and "choose from" in wrong.stderr


def test_search_shows_and_counts_labels_below_a_minimum_confidence_as_unsure(ns, sink):
    posts = [enriched(i, sentiment={"label": "negative", "scores": {"negative": i / 10}}) for i in range(10)]
    index_posts(sink, posts)
    count_docs(ns)  # refreshes

    found = canyu(ns, "search", "*", "--min-confidence", "0.7", "--limit", "10", "--json")
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert result["by_sentiment"] == {"unsure": 7, "negative": 3}
    assert sorted(h["sentiment"]["label"] for h in result["hits"]) == ["negative"] * 3 + ["unsure"] * 7
    assert {h["sentiment"]["confidence"] for h in result["hits"]} == {p.sentiment.confidence for p in posts}

    confident = canyu(ns, "search", "*", "--sentiment", "negative", "--min-confidence", "0.7", "--json")
    assert json.loads(confident.stdout)["total"] == 3
    table = canyu(ns, "search", "*", "--min-confidence", "0.7")
    assert "sentiment: unsure 7, negative 3" in table.stdout
    plain = json.loads(canyu(ns, "search", "*", "--json").stdout)
    assert plain["by_sentiment"] == {"negative": 10}
