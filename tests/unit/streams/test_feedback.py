"""A feedback item's state (streams.feedback.ItemState): what it counts as its posts join it."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from streams.feedback import TREND_DAYS, VECTOR_GROUP, ItemState
from tests.unit.streams.factories import T0, post

DAY = timedelta(days=1)


def joined(item: ItemState, n: int, at: timedelta, sentiment: str = "negative", text: str = "") -> None:
    p = post(n, text, at=at, intent="bug_report", sentiment=sentiment)
    item.add(p, Counter(), (T0 + at).timestamp())


def test_an_item_counts_its_reports_per_day_beside_its_posts_and_a_positive_post_is_no_report():
    item = ItemState.open(post(1, intent="bug_report"), VECTOR_GROUP)
    joined(item, 1, 0 * DAY)
    joined(item, 2, 0 * DAY, sentiment="neutral")
    joined(item, 3, 1 * DAY, sentiment="positive")  # "1.0.7.1 fixed it": about the bug, no report of it
    assert item.trend == {"2026-11-20": 2, "2026-11-21": 1}
    assert item.reported_trend == item.reports_per_day() == {"2026-11-20": 2}
    assert [p[0] for p in item.recent] == ["microblog:1", "microblog:2"]  # the evidence: reports only


def test_a_post_that_says_the_problem_is_gone_is_no_report_even_when_it_reads_negative():
    item = ItemState.open(post(1, intent="bug_report"), VECTOR_GROUP)
    joined(item, 1, 0 * DAY, text="WiFi drops every ten minutes since 1.0.6.0")
    joined(item, 2, 1 * DAY, text="Update: 1.0.7.0 sorted it out for me, not a single drop in two days")
    joined(item, 3, 1 * DAY, text="说是1.0.7.0修复了，结果还是断")  # "they said 1.0.7.0 fixed it, yet it still drops"
    assert item.reported_trend == {"2026-11-20": 1, "2026-11-21": 1}
    assert [p[0] for p in item.recent] == ["microblog:1", "microblog:3"]


def test_an_item_stored_before_reports_per_day_were_kept_counts_its_posts_for_them():
    item = ItemState.open(post(1, intent="bug_report"), VECTOR_GROUP)
    joined(item, 1, 0 * DAY)
    stored = {k: v for k, v in vars(item).items() if k != "reported_trend"}
    old = ItemState(**stored)
    joined(old, 2, 1 * DAY, sentiment="positive")
    assert old.reported_trend is None  # not started half way: its earlier reports are unknown
    assert old.reports_per_day() == old.trend == {"2026-11-20": 1, "2026-11-21": 1}


def test_reports_per_day_keep_the_last_days_like_the_trend():
    item = ItemState.open(post(1, intent="bug_report"), VECTOR_GROUP)
    for n in range(TREND_DAYS + 5):
        joined(item, n, n * DAY)
    assert len(item.reported_trend) == TREND_DAYS == len(item.trend)
    assert min(item.reported_trend) == min(item.trend) == (T0 + 5 * DAY).date().isoformat()
