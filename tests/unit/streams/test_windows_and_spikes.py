import math

import pytest

from streams.spikes import Baseline, SpikeRule, baseline
from streams.windows import hopping, tumbling


def test_a_tumbling_minute_holds_each_instant_once():
    w = tumbling("1m", 60, grace=30)
    assert w.starts(125.0) == [120]
    assert w.starts(120.0) == [120]
    assert w.starts(119.999) == [60]


def test_a_one_hour_window_hopping_every_five_minutes_holds_each_instant_twelve_times():
    w = hopping("1h", 3600, 300, grace=0)
    starts = w.starts(7200.0)
    assert len(starts) == 12
    assert starts[0] == 7200 - 3600 + 300 and starts[-1] == 7200
    assert w.trailing(7200.0) == 3900  # the hour up to now
    assert all(s <= 7200 < s + 3600 for s in starts)


def test_hopping_needs_a_step_that_divides_the_size():
    with pytest.raises(ValueError, match="multiple"):
        hopping("bad", 3600, 420, grace=0)


def test_a_window_accepts_posts_until_its_grace_runs_out():
    w = tumbling("1m", 60, grace=30)
    assert not w.is_late(0, watermark=90)  # ended at 60, grace until 90
    assert w.is_late(0, watermark=90.5)


def test_baseline_is_the_population_mean_and_deviation_of_the_trailing_counts():
    b = baseline([2, 4, 4, 4, 5, 5, 7, 9])
    assert (b.mean, b.std, b.windows) == (5.0, 2.0, 8)
    assert baseline([]) == Baseline(0.0, 0.0, 0)


def test_the_spike_rule_needs_k_sigma_the_minimum_count_and_enough_history():
    rule = SpikeRule(k=3, min_count=10, min_history=4)
    b = Baseline(mean=5.0, std=2.0, windows=8)
    assert rule.threshold(b) == 11.0
    assert not rule.fires(10, b) and rule.fires(11, b)
    quiet = Baseline(mean=0.5, std=0.2, windows=8)
    assert rule.threshold(quiet) == 10.0  # σ floored at 1 → 3.5, so the minimum count decides
    assert not rule.fires(9, quiet) and rule.fires(10, quiet)
    assert not rule.fires(100, Baseline(0, 0, windows=3))  # too little history to know what is normal


def test_cooldown():
    rule = SpikeRule(cooldown_s=600)
    assert rule.cooled_down(None, 1000)
    assert not rule.cooled_down(1000, 1599)
    assert rule.cooled_down(1000, 1600)


def test_hand_computed_baseline_from_uneven_history():
    counts = [1, 0, 3, 0, 2, 0]
    b = baseline(counts)
    mean = 1.0
    std = math.sqrt(sum((c - mean) ** 2 for c in counts) / 6)
    assert b.mean == pytest.approx(mean) and b.std == pytest.approx(std)
