"""The release rules (streams.releases): judging an item around a release, shares and their intervals."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from canyu.schema import Release
from streams.feedback import ItemState
from streams.releases import DAY, ReleaseRules, Window, change, check_fix, impact, judge, reports_on_or_after, share

RULES = ReleaseRules(window_days=7, jump=2.0, min_posts=3)
D = datetime(2026, 11, 20, tzinfo=timezone.utc)
RELEASE = Release(product="hyperos", version="1.0.7.0", date=D)


def test_only_bug_reports_and_complaints_regress_another_item_that_jumps_persists():
    assert judge(7, 6, False, 2, RULES, problem=False) == "persisting"  # a wish asked more often after
    assert judge(0, 5, True, 2, RULES, problem=False) is None  # a wish first made after: the release did not bring it
    assert judge(7, 6, False, 2, RULES, problem=True) == "regression"


@pytest.mark.parametrize(
    ("before", "after", "opened_after", "elapsed", "verdict"),
    [
        (0, 3, True, 2, "regression"),  # opened after, enough posts
        (0, 2, True, 2, None),  # opened after, too few to say
        (7, 6, False, 2, "regression"),  # 1/day before, 3/day after
        (7, 3, False, 2, "persisting"),  # 1/day before, 1.5/day after: not twice
        (14, 0, False, 3, "quieted"),
        (14, 0, False, 0.5, None),  # half a day after says nothing yet
        (14, 2, False, 7, "quieted"),  # 2/day before, under 1/day after
        (1, 0, False, 7, None),  # one post before is no pattern to go quiet from
    ],
)
def test_an_item_is_judged_by_its_posts_per_day_around_the_release(before, after, opened_after, elapsed, verdict):
    assert judge(before, after, opened_after, elapsed, RULES) == verdict


def test_the_window_counts_whole_utc_days_and_the_release_day_is_after():
    now = D.timestamp() + 2.5 * DAY
    window = Window.of(RELEASE, now, 7)
    assert window.before[0] == "2026-11-13" and window.before[-1] == "2026-11-19"
    assert window.after == ("2026-11-20", "2026-11-21", "2026-11-22")  # up to now, not the whole week
    assert window.elapsed_days == 2.5
    trend = {"2026-11-12": 9, "2026-11-13": 1, "2026-11-19": 2, "2026-11-20": 4, "2026-11-23": 5}
    assert window.counts(trend) == (3, 4)


def test_shares_carry_their_wilson_interval_and_the_change_its_newcombe_interval():
    half = share(5, 10)
    assert (half.share, half.low, half.high) == (0.5, 0.2366, 0.7634)  # the textbook values
    assert share(0, 0).share is None and share(0, 0).low is None
    assert share(0, 20).low == 0.0 and share(20, 20).high == 1.0
    delta, low, high = change(share(2, 20), share(12, 20))
    assert delta == 0.5 and low < 0.5 < high and low > 0  # a real rise: the interval excludes 0
    delta, low, high = change(share(5, 10), share(6, 10))
    assert low < 0 < high  # ten posts each way tell nothing
    assert change(share(0, 0), share(3, 4)) == (None, None, None)


def item(**fields) -> ItemState:
    base = dict(id="item-1", group="bug_report|hyperos|connectivity", profile={}, samples=[], title="t", count=0,
                authors=[], unique_authors=0, first_seen=D.isoformat(), last_seen=D.isoformat(), trend={})  # fmt: skip
    return ItemState(**{**base, **fields})


def test_a_release_judges_an_item_on_its_reports_and_one_stored_before_they_were_kept_on_its_posts():
    opened = "2026-11-20T08:00:00+00:00"
    posts = {"2026-11-20": 3, "2026-11-21": 2}  # five posts after the release: a regression, counted as posts
    named = {"hyperos 1.0.7.0": 4}
    old = item(id="item-old", first_seen=opened, trend=posts, versions=named)  # stored before reports were kept
    # Two of its posts after the release report the bug; three say 1.0.7.0 fixed it.
    gone = item(id="item-gone", first_seen=opened, trend=posts, versions=named, reported_trend={"2026-11-20": 2},
                reported_versions={"hyperos 1.0.7.0": 1})  # fmt: skip
    # Three of its five posts report it, one of them naming the release.
    kept = item(id="item-kept", first_seen=opened, trend=posts, versions=named, reported_trend={"2026-11-20": 3},
                reported_versions={"hyperos 1.0.7.0": 1})  # fmt: skip
    result = impact(RELEASE, [(old, "open"), (gone, "open"), (kept, "open")], ((0, 0), (0, 0)),
                    D.timestamp() + 2.5 * DAY, RULES)  # fmt: skip
    shown = {i.item_id: (i.before, i.after, i.version_share) for i in result.regressions}
    assert shown == {"item-old": (0, 5, 0.8), "item-kept": (0, 3, round(1 / 3, 4))}
    assert result.quieted == result.persisting == []  # too few reports after to say anything: not listed


def test_reports_naming_the_fixed_version_or_a_later_one_of_its_line_count_against_the_fix():
    named = item(versions={"hyperos 1.0.7.0": 2, "hyperos 1.0.8.0": 1, "hyperos 1.0.6.0": 4, "android 14.0": 3})
    assert reports_on_or_after(named, RELEASE) == 3  # 1.0.6.0 is before the fix; Android is another line


def test_a_fix_is_verified_after_the_quiet_period_and_fails_on_reports_or_their_rate():
    rules = ReleaseRules(grace_days=1, quiet_days=3, failed_reports=2, failed_rate=2.0)
    quiet = item(last_seen=D.isoformat(), trend={"2026-11-19": 5})
    assert not check_fix(quiet, RELEASE, D.timestamp() + 3.5 * DAY, rules).verified  # grace + 3 days not over
    check = check_fix(quiet, RELEASE, D.timestamp() + 4.5 * DAY, rules)
    assert check.verified and not check.failed and check.verified_at == D.timestamp() + 4 * DAY
    named = item(versions={"hyperos 1.0.7.0": 2}, last_seen="2026-11-21T12:00:00+00:00", trend={"2026-11-21": 2})
    assert check_fix(named, RELEASE, D.timestamp() + 2 * DAY, rules).failed
    busy = item(last_seen="2026-11-24T12:00:00+00:00", trend={"2026-11-22": 3, "2026-11-23": 3, "2026-11-24": 2})
    failed = check_fix(busy, RELEASE, D.timestamp() + 4.5 * DAY, rules)
    assert failed.failed and failed.reports == 0 and failed.rate >= 2.0
    thanked = item(last_seen=busy.last_seen, trend=busy.trend, reported_trend={"2026-11-22": 1}, last_report=None)
    held = check_fix(thanked, RELEASE, D.timestamp() + 4.5 * DAY, rules)  # 8 posts after, 7 of them "it works now"
    assert not held.failed and held.rate < 1.0
