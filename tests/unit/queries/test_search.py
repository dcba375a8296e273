import re
from datetime import datetime, timezone

import pytest

from canyu.filters import Filters, count_by, counts, parse_time, read_time
from queries.search import Agg, build_query, search

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)),
        ("12h", datetime(2026, 11, 27, 0, 0, tzinfo=timezone.utc)),
        ("30m", datetime(2026, 11, 27, 11, 30, tzinfo=timezone.utc)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=timezone.utc)),
        ("2026-11-01T08:00:00+08:00", datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc)),
    ],
)
def test_since_accepts_relative_and_absolute_times(value, expected):
    assert parse_time(value, now=NOW) == expected


def test_since_rejects_nonsense_with_a_hint():
    with pytest.raises(ValueError, match="7d"):
        parse_time("last tuesday")


def test_the_query_uses_simple_query_string_and_exact_filters():
    since, until = datetime(2026, 11, 1, tzinfo=timezone.utc), datetime(2026, 11, 8, tzinfo=timezone.utc)
    filters = Filters(source=["forum"], lang=["en"], topic=["battery"], intent=["bug_report"], product=["p9"],
                      sentiment=["negative", "neutral"], author=["u1"], since=since, until=until)  # fmt: skip
    query = build_query("battery -camera", filters)
    (must,) = query["bool"]["must"]
    assert must["simple_query_string"]["query"] == "battery -camera"
    assert query["bool"]["filter"] == [
        {"terms": {"source": ["forum"]}},
        {"terms": {"language": ["en"]}},
        {"terms": {"topics.id": ["battery"]}},
        {"terms": {"intent.label": ["bug_report"]}},
        {"terms": {"products": ["p9"]}},
        {"terms": {"sentiment.label": ["negative", "neutral"]}},
        {"terms": {"author.id": ["u1"]}},
        {"range": {"created_at": {"gte": since.isoformat(), "lte": until.isoformat()}}},
    ]
    assert "script" not in str(query)


def test_no_filters_means_no_filter_clauses():
    assert build_query("battery")["bool"]["filter"] == []


def test_star_or_empty_matches_everything():
    assert build_query("*")["bool"]["must"] == [{"match_all": {}}]
    assert build_query("  ")["bool"]["must"] == [{"match_all": {}}]


@pytest.mark.parametrize(("field", "value"), [("sentiment", "angry"), ("intent", "rant")])
def test_unknown_labels_are_refused_with_the_choices(field, value):
    with pytest.raises(ValueError, match=f"--{field} {value}: choose from"):
        Filters(**{field: [value]})


def test_an_empty_time_window_is_refused():
    with pytest.raises(ValueError, match="is not before"):
        Filters(since=NOW, until=NOW)


def test_aggregations_are_terms_over_known_fields_or_calendar_histograms():
    assert Agg.parse("terms:topic").body(5) == {"terms": {"field": "topics.id", "size": 5}}
    assert Agg.parse("date:day").body(5)["date_histogram"] == {
        "field": "created_at", "calendar_interval": "day", "min_doc_count": 0,
    }  # fmt: skip


@pytest.mark.parametrize("spec", ["terms:text", "date:fortnight", "histogram:day", "topic"])
def test_other_aggregations_are_refused_with_the_syntax(spec):
    with pytest.raises(ValueError, match="use terms:<source|lang"):
        Agg.parse(spec)


def test_relative_times_go_to_elasticsearch_as_date_math():
    filters = Filters(since=read_time("7d"), until=read_time("2026-11-08"))
    assert build_query("*", filters)["bool"]["filter"] == [
        {"range": {"created_at": {"gte": "now-7d", "lte": "2026-11-08T00:00:00+00:00"}}}
    ]


def test_a_window_empty_whatever_the_clock_is_refused_and_one_that_depends_on_it_is_not():
    with pytest.raises(ValueError, match="is not before"):
        Filters(since="1d", until="7d")
    assert Filters(since="1h", until=NOW).since == "1h"


def test_a_minimum_confidence_makes_the_label_filters_ask_for_confident_labels():
    filters = Filters(sentiment=["negative"], intent=["bug_report"], topic=["battery"], min_confidence=0.7)
    assert filters.post_clauses() == [
        {"terms": {"topics.id": ["battery"]}},
        {"terms": {"intent.label": ["bug_report"]}},
        {"terms": {"sentiment.label": ["negative"]}},
        {"range": {"sentiment.confidence": {"gte": 0.7}}},
        {"range": {"intent.confidence": {"gte": 0.7}}},
    ]
    assert filters.feedback_clauses() == [{"terms": {"topic": ["battery"]}}]
    # Without a label filter a minimum confidence narrows nothing: it changes how labels are shown.
    assert Filters(topic=["battery"], min_confidence=0.7).post_clauses() == [{"terms": {"topics.id": ["battery"]}}]
    # Without a minimum the clauses are as they always were.
    assert {"range"} & {k for c in Filters(sentiment=["negative"]).post_clauses() for k in c} == set()


@pytest.mark.parametrize("value", [-0.1, 1.01, float("nan")])
def test_a_minimum_confidence_is_a_probability(value):
    with pytest.raises(ValueError, match="--min-confidence"):
        Filters(min_confidence=value)


class FakeEs:
    """Answers with two posts and the sentiment counts the way Elasticsearch shapes them."""

    def __init__(self):
        self.aggs: dict = {}

    def search(self, *, aggs, **_):
        self.aggs = aggs
        hits = [
            {"_source": {"id": "f:1", "sentiment": {"label": "positive", "scores": {}, "confidence": 0.95},
                         "intent": {"label": "praise", "scores": {}, "confidence": 0.4}}},
            {"_source": {"id": "f:2", "sentiment": {"label": "negative", "scores": {"negative": 0.9}},
                         "intent": {"label": "bug_report", "scores": {}, "confidence": 0.9}}},
        ]  # fmt: skip
        split = "filters" in aggs["terms:sentiment"]
        sentiment = (
            {"buckets": {"sure": {"doc_count": 1, "label": {"buckets": [{"key": "positive", "doc_count": 1}]}},
                         "unsure": {"doc_count": 1}}}
            if split
            else {"buckets": [{"key": "positive", "doc_count": 1}, {"key": "negative", "doc_count": 1}]}
        )  # fmt: skip
        return {
            "hits": {"total": {"value": 2}, "hits": hits},
            "aggregations": {"terms:sentiment": sentiment, "terms:source": {"buckets": [{"key": "f", "doc_count": 2}]}},
        }


def test_search_shows_labels_below_the_minimum_confidence_as_unsure():
    es = FakeEs()
    result = search(es, "posts", {"match_all": {}}, filters=Filters(min_confidence=0.7))
    sure = {"range": {"sentiment.confidence": {"gte": 0.7}}}
    assert es.aggs["terms:sentiment"] == {
        "filters": {"filters": {"sure": sure, "unsure": {"bool": {"must_not": [sure]}}}},
        "aggs": {"label": {"terms": {"field": "sentiment.label", "size": 50}}},
    }
    assert result.by_sentiment == {"positive": 1, "unsure": 1}
    # A record indexed before confidences existed has none, and is as unsure as the query counts it.
    assert [(h["sentiment"]["label"], h["intent"]["label"]) for h in result.hits] == [
        ("positive", "unsure"),
        ("unsure", "bug_report"),
    ]
    assert result.hits[0]["intent"]["confidence"] == 0.4  # the scores are kept


def test_search_without_a_minimum_confidence_is_unchanged():
    es = FakeEs()
    result = search(es, "posts", {"match_all": {}})
    assert es.aggs["terms:sentiment"] == {"terms": {"field": "sentiment.label", "size": 50}}
    assert result.by_sentiment == {"positive": 1, "negative": 1}
    assert [h["sentiment"]["label"] for h in result.hits] == ["positive", "negative"]


def test_a_bare_version_filters_every_line_and_a_line_and_version_only_that_pair():
    same_point = ["1.0.7", "1.0.7.0", "1.0.7.0.0"]  # how the index may spell one release point
    assert Filters(version=["v1.0.7"]).post_clauses() == [{"terms": {"versions.version": same_point}}]
    tag = {"terms": {"versions.tag": [f"hyperos {v}" for v in same_point]}}
    assert Filters(version=["HyperOS 1.0.7.0"]).post_clauses() == [tag]
    assert Filters(version=["hyperos:1.0.7.0"]).post_clauses() == [tag]
    (either,) = Filters(version=["3.2.1", "hyperos 1.0.7.0", "hyperos:1.0.7"]).post_clauses()
    assert either == {"bool": {"should": [{"terms": {"versions.version": ["3.2.1", "3.2.1.0", "3.2.1.0.0"]}}, tag],
                               "minimum_should_match": 1}}  # fmt: skip
    assert Filters(version=["One UI 6.1"]).post_clauses()[0]["terms"]["versions.tag"][0] == "oneui 6.1"
    assert Filters(version=["3.2.1"]).feedback_clauses() == []  # items carry no field to filter versions on


def test_a_major_alone_filters_only_with_its_line_as_the_finder_writes_it():
    (clause,) = Filters(version=["android 14"]).post_clauses()
    assert clause["terms"]["versions.tag"][0] == "android 14.0"
    with pytest.raises(ValueError, match="'14' is not a version.*or a line and a version"):
        Filters(version=["14"])


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("latest", "'latest' is not a version"),
        ("hyperos 1.0.x", "is not a version"),
        ("hyperos 1.0.7.0.1.2", "'1.0.7.0.1.2' is not a version"),
        ("澎湃OS 1.0.7.0", "'澎湃os' is not a software line; choose from hyperos, miui"),
        ("hyper 1.0.7.0", "'hyper' is not a software line"),
        ("hyperos:", "is not a version"),
    ],
)
def test_a_version_filter_that_does_not_parse_is_refused_with_a_sentence(value, why):
    with pytest.raises(ValueError, match=f"^--version '{re.escape(value)}': .*{why}"):
        Filters(version=[value])


def test_versions_are_counted_by_line_and_version():
    assert Agg.parse("terms:version").body(5) == {"terms": {"field": "versions.tag", "size": 5}}


def test_the_time_window_alone_applies_to_another_time_field():
    until = datetime(2026, 11, 8, tzinfo=timezone.utc)
    assert Filters(since="7d", until=until, source=["forum"], version=["1.0.7"]).time_clauses("date") == [
        {"range": {"date": {"gte": "now-7d", "lte": until.isoformat()}}}
    ]
    assert Filters(source=["forum"]).time_clauses("date") == []


def test_one_reading_of_counts_serves_terms_date_histograms_and_label_splits():
    terms = {"buckets": [{"key": "weibo", "doc_count": 3}, {"key": "forum", "doc_count": 1}]}
    days = {"buckets": [{"key": 1795996800000, "key_as_string": "2026-11-30T00:00:00.000Z", "doc_count": 2}]}
    split = {"buckets": {"sure": {"doc_count": 3, "label": {"buckets": [{"key": "negative", "doc_count": 1},
                                                                       {"key": "positive", "doc_count": 2}]}},
                         "unsure": {"doc_count": 4}}}  # fmt: skip
    assert counts(terms) == {"weibo": 3, "forum": 1}
    assert counts(days) == {"2026-11-30T00:00:00.000Z": 2}
    assert list(counts(split).items()) == [("unsure", 4), ("positive", 2), ("negative", 1)]  # most first
    assert count_by("lang", 5) == {"terms": {"field": "language", "size": 5}}
