"""The sink's bookkeeping, without a server: retention plans, document versions, routes, bulk answers, commits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from canyu import topics
from canyu.indices import kinds
from canyu.schema import Cascade, EnrichedPost, ReleaseImpact
from canyu.settings import Settings
from canyu_runtime.errors import RetryLater
from sinks.base import offsets_after
from sinks.elasticsearch import read_bulk_response, routes, version_of
from sinks.retention import plan_retention

SETTINGS = Settings(namespace="t1.")


def test_retention_drops_only_months_that_ended_before_the_cutoff():
    posts = kinds(SETTINGS)["posts"]
    names = ["t1.posts-2025.09", "t1.posts-2025.10", "t1.posts-2025.12", "t1.posts-2026.11", "t1.posts-reindexed"]
    plan = plan_retention(names, posts, cutoff=datetime(2025, 11, 1, tzinfo=timezone.utc))
    assert plan.drop == ["t1.posts-2025.09", "t1.posts-2025.10"]
    assert plan.keep == ["t1.posts-2025.12", "t1.posts-2026.11"]
    assert plan.unknown == ["t1.posts-reindexed"]
    december = plan_retention(["t1.posts-2025.12"], posts, cutoff=datetime(2025, 12, 31, tzinfo=timezone.utc))
    assert december.drop == []  # a month that is only partly older stays whole


def test_versions_follow_time_to_the_microsecond():
    t = datetime(2026, 11, 27, 12, 0, 0, 999_999, tzinfo=timezone.utc)
    assert version_of(t + timedelta(microseconds=1)) == version_of(t) + 1
    assert version_of(datetime(1970, 1, 1, tzinfo=timezone.utc)) == 0


def test_each_topic_routes_to_its_index_with_a_version_from_its_timestamp():
    route = routes(SETTINGS)
    post = EnrichedPost(id="weibo:1", source="weibo", text="x", created_at="2026-11-20T10:00:00+08:00",
                        fetched_at="2026-11-21T00:00:00Z", author={"id": "a"}, language="zh",
                        sentiment={"label": "neutral", "scores": {}}, intent={"label": "other", "scores": {}},
                        classifier="lexicon")  # fmt: skip
    action = route["t1." + topics.POSTS_ENRICHED].action(post)["index"]
    assert action == {"_index": "t1.posts-2026.11", "_id": "weibo:1", "version_type": "external_gte",
                      "version": version_of(post.fetched_at)}  # fmt: skip
    cascade = Cascade(root_id="weibo:1", reposts=3, depth=1, reach=10, velocity=1.0, first_seen="2026-11-20T10:00:00Z")
    action = route["t1." + topics.CASCADES].action(cascade)["index"]
    assert (action["_index"], action["_id"]) == ("t1.cascades", "weibo:1")
    impact = ReleaseImpact(
        id="hyperos|1.0.7.0", product="hyperos", version="1.0.7.0", date="2026-11-20T00:00:00Z", source="registered",
        window_days=7, observed_until="2026-11-22T00:00:00Z", negative_before={"count": 1, "total": 2},
        negative_after={"count": 0, "total": 0},
    )  # fmt: skip
    action = route["t1." + topics.RELEASE_IMPACTS].action(impact)["index"]
    assert (action["_index"], action["_id"]) == ("t1.release-impacts", "hyperos|1.0.7.0")
    assert action["version"] == version_of(impact.updated_at)
    assert set(route) == {"t1." + t for t in (topics.POSTS_ENRICHED, topics.ALERTS, topics.FEEDBACK_ITEMS,
                                              topics.CASCADES, topics.RELEASE_IMPACTS)}  # fmt: skip


def _item(status: int, error: str | None = None) -> dict:
    return {"index": {"_id": "x", "status": status, **({"error": {"type": error}} if error else {})}}


def test_a_bulk_answer_sorts_indexed_stale_and_rejected_documents():
    response = {"items": [_item(201), _item(200), _item(409, "version_conflict_engine_exception"),
                          _item(400, "document_parsing_exception")]}  # fmt: skip
    outcome = read_bulk_response(response, ["a", "b", "c", "d"])
    assert (outcome.indexed, outcome.stale) == (2, 1)
    assert [record for record, _ in outcome.rejected] == ["d"]
    assert "document_parsing_exception" in outcome.rejected[0][1]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_bulk_answer_asking_to_try_later_fails_the_whole_batch(status):
    with pytest.raises(RetryLater, match=str(status)):
        read_bulk_response({"items": [_item(201), _item(status, "es_rejected_execution_exception")]}, ["a", "b"])


def test_commits_point_just_past_the_last_record_of_each_partition():
    def record(topic, partition, offset):
        return ConsumerRecord(topic, partition, -1, offset, 0, 0, b"k", b"v", [], None, 1, 1, -1)

    batch = [record("a", 0, 5), record("a", 0, 6), record("a", 1, 2), record("b", 0, 9)]
    offsets = {tp: meta.offset for tp, meta in offsets_after(batch).items()}
    assert offsets == {TopicPartition("a", 0): 7, TopicPartition("a", 1): 3, TopicPartition("b", 0): 10}
