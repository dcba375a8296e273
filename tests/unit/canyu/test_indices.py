"""The index templates, their analysis choices and the indices' names (canyu.indices)."""

from __future__ import annotations

import typing
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import BaseModel

from canyu.indices import analysis_choices, kinds, load_analysis, load_template
from canyu.schema import Alert, Cascade, EnrichedPost, FeedbackItem
from canyu.settings import Settings

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
