"""The Elasticsearch sink without a node: what a batch becomes when a record in it can never be indexed."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, BadRequestError
from kafka.consumer.fetcher import ConsumerRecord

from canyu import topics
from canyu.schema import EnrichedPost
from canyu.settings import Settings
from canyu_runtime.errors import RetryLater
from sinks.elasticsearch import ElasticsearchSink, read_bulk_response

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)
SETTINGS = Settings(namespace="u.")
TOPIC = SETTINGS.topic(topics.POSTS_ENRICHED)


def enriched(n: int, **changes) -> bytes:
    fields = dict(
        id=f"forum:{n}", source="forum", text=f"battery drains fast #{n}", language="en", created_at=NOW,
        fetched_at=NOW, author={"id": "u"}, sentiment={"label": "negative", "scores": {}},
        intent={"label": "bug_report", "scores": {}}, classifier="lexicon-1",
    )  # fmt: skip
    return json.dumps({**json.loads(EnrichedPost(**fields).model_dump_json()), **changes}).encode()


def record(value: bytes | None, offset: int) -> ConsumerRecord:
    return ConsumerRecord(TOPIC, 0, -1, offset, 0, 0, b"k", value, [], None, 1, len(value or b""), -1)


def api_error(status: int, cls: type[ApiError] = ApiError) -> ApiError:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "localhost", 9200))
    return cls(f"status {status}", meta, {"error": {"type": "x"}})


class FakeES:
    """Refuses any bulk request that holds a document whose text says so, with that status."""

    def __init__(self, refuse: int):
        self.refuse = refuse
        self.indexed: list[str] = []
        self.requests = 0

    def bulk(self, operations):
        self.requests += 1
        operations = [json.loads(line) for line in operations]  # the sink encodes each line itself
        docs = operations[1::2]
        if any("refuse me" in d["text"] for d in docs):
            raise api_error(self.refuse, BadRequestError if self.refuse == 400 else ApiError)
        self.indexed += [op["index"]["_index"] + "/" + op["index"]["_id"] for op in operations[0::2]]

        class Response:
            body = {"items": [{"index": {"status": 201}} for _ in docs]}

        return Response()

    def close(self):
        pass


@pytest.fixture
def sink(tmp_path, monkeypatch):
    es_sink = ElasticsearchSink(SETTINGS.replace(home=tmp_path))
    letters = []
    monkeypatch.setattr(es_sink, "send_dead_letters", letters.extend)
    es_sink.letters = letters
    return es_sink


@pytest.mark.parametrize("status", [400, 413])
def test_a_refused_bulk_request_is_split_until_only_the_record_at_fault_is_set_aside(sink, status):
    sink.es = FakeES(refuse=status)
    batch = [record(enriched(i, text="refuse me" if i == 5 else f"fine #{i}"), i) for i in range(8)]
    sink.write_or_split(batch)
    assert sorted(sink.es.indexed) == sorted(f"u.posts-2026.11/forum:{i}" for i in range(8) if i != 5)
    (letter,) = sink.letters
    assert letter.offset == 5 and letter.reason.startswith("rejected by Elasticsearch") and str(status) in letter.reason
    assert sink.es.requests < 8  # halves, not one request per record


def test_posts_dated_outside_the_window_are_dead_letters_and_name_no_index(sink):
    sink.es = FakeES(refuse=400)
    batch = [
        record(enriched(1, created_at="0001-01-01T00:00:00+05:00"), 0),  # once "date value out of range" forever
        record(enriched(2, created_at="9999-12-31T23:59:59-05:00"), 1),
        record(enriched(3, created_at="2999-01-01T00:00:00Z"), 2),
        record(enriched(4, created_at="1999-12-31T23:59:59Z"), 3),
        record(enriched(5), 4),
    ]
    sink.write_or_split(batch)
    assert sink.es.indexed == ["u.posts-2026.11/forum:5"]
    assert [letter.offset for letter in sink.letters] == [0, 1, 2, 3]
    assert all("outside the sane window" in letter.reason for letter in sink.letters)


@pytest.mark.parametrize("status", [403, 404, 429, 503])
def test_items_refused_by_an_outage_retry_the_batch_rather_than_dead_letter_it(status):
    response = {"items": [{"index": {"status": 201}}, {"index": {"status": status, "error": {"type": "blocked"}}}]}
    with pytest.raises(RetryLater):
        read_bulk_response(response, [record(b"{}", 0), record(b"{}", 1)])


def test_a_bad_document_item_is_a_dead_letter_and_a_stale_one_is_not():
    response = {"items": [{"index": {"status": 400, "error": {"type": "mapper_parsing_exception"}}},
                          {"index": {"status": 409, "error": {"type": "version_conflict"}}}]}  # fmt: skip
    outcome = read_bulk_response(response, [record(b"{}", 0), record(b"{}", 1)])
    assert outcome.stale == 1 and [r.offset for r, _ in outcome.rejected] == [0]
