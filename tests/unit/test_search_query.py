from datetime import datetime, timezone

import pytest

from queries.search import build_query, parse_since

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
    assert parse_since(value, now=NOW) == expected


def test_since_rejects_nonsense_with_a_hint():
    with pytest.raises(ValueError, match="7d"):
        parse_since("last tuesday")


def test_the_query_uses_simple_query_string_and_exact_filters():
    since = datetime(2026, 11, 1, tzinfo=timezone.utc)
    query = build_query("battery -camera", source="forum", lang="en", since=since, sentiment="negative")
    (must,) = query["bool"]["must"]
    assert must["simple_query_string"]["query"] == "battery -camera"
    assert {"term": {"source": "forum"}} in query["bool"]["filter"]
    assert {"term": {"language": "en"}} in query["bool"]["filter"]
    assert {"term": {"sentiment.label": "negative"}} in query["bool"]["filter"]
    assert {"range": {"created_at": {"gte": since.isoformat()}}} in query["bool"]["filter"]
    assert "script" not in str(query)


def test_star_or_empty_matches_everything():
    assert build_query("*")["bool"]["must"] == [{"match_all": {}}]
    assert build_query("  ")["bool"]["must"] == [{"match_all": {}}]
