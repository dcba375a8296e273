"""The index templates, naming and the sink's bookkeeping, without a server."""

from __future__ import annotations

import typing
from datetime import datetime, timedelta, timezone

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import BaseModel

from canyu import topics
from canyu.indices import analysis_choices, kinds, load_analysis, load_template
from canyu.schema import Alert, Cascade, EnrichedPost, FeedbackItem, ReleaseImpact
from canyu.settings import Settings
from canyu_runtime.errors import RetryLater
from sinks.base import offsets_after
from sinks.elasticsearch import read_bulk_response, routes, version_of
from sinks.retention import plan_retention

MODELS = {"posts": EnrichedPost, "alerts": Alert, "feedback-items": FeedbackItem, "cascades": Cascade}
SETTINGS = Settings(namespace="t1.")


def _nested_model(annotation) -> type[BaseModel] | None:
    """The model a field holds, directly or as a list of them."""
    inner = typing.get_args(annotation)[0] if typing.get_origin(annotation) is list else annotation
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def assert_mapping_covers(model: type[BaseModel], properties: dict, path: str = "") -> None:
    assert set(properties) == set(model.model_fields), f"{path or model.__name__}: mapping and schema differ"
    for name, info in model.model_fields.items():
        nested = _nested_model(info.annotation)
        if nested is not None and properties[name].get("enabled", True):
            assert_mapping_covers(nested, properties[name]["properties"], f"{path}{name}.")


@pytest.mark.parametrize("kind", MODELS)
def test_each_template_maps_exactly_the_fields_of_its_schema_and_nothing_dynamically(kind):
    mappings = load_template(kind)["mappings"]
    assert mappings["dynamic"] is False
    assert_mapping_covers(MODELS[kind], mappings["properties"])


def test_posts_map_ids_and_labels_as_keywords_and_text_with_the_switchable_analyzer():
    props = load_template("posts")["mappings"]["properties"]
    for field in ("id", "source", "language", "products", "duplicate_of"):
        assert props[field]["type"] == "keyword", field
    for obj, field in (("author", "id"), ("sentiment", "label"), ("intent", "label"), ("topics", "id")):
        assert props[obj]["properties"][field]["type"] == "keyword", f"{obj}.{field}"
    assert props["title"]["analyzer"] == props["text"]["analyzer"] == "canyu_text"
    assert props["title"]["fields"]["keyword"]["type"] == "keyword"
    assert {props["engagement"]["properties"][f]["type"] for f in ("likes", "reposts", "comments")} == {"long"}
    assert props["created_at"]["type"] == "date"


def test_every_analysis_choice_defines_the_analyzer_the_templates_use():
    assert {"standard", "icu", "smartcn", "nori"} <= set(analysis_choices())
    for name in analysis_choices():
        analysis = load_analysis(name)
        assert "canyu_text" in analysis["template"]["settings"]["analysis"]["analyzer"], name
        assert analysis["_meta"]["description"]


def test_an_unknown_analysis_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="standard"):
        load_analysis("klingon")


def test_posts_go_to_the_utc_month_of_their_creation():
    posts = kinds(SETTINGS)["posts"]
    late_in_shanghai = datetime(2026, 12, 1, 7, 0, tzinfo=timezone(timedelta(hours=8)))  # still November in UTC
    assert posts.month_index(late_in_shanghai) == "t1.posts-2026.11"
    assert posts.month_of("t1.posts-2026.11") == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert posts.month_of("t1.posts-000001") is None
    assert posts.month_of("t1.alerts-2026.11") is None


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
