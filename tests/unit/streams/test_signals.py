import copy
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from itertools import combinations, count

import numpy as np
import pytest

from streams.records import HourCounts, PostEntry
from streams.signals import SignalConfig, Signals, Tables
from streams.spikes import SpikeRule
from streams.windows import hopping
from tests.unit.streams.factories import T0, post

H = timedelta(hours=1)
OFFSETS = count()


def process(signals: Signals, p, offset: int | None = None):
    """``p`` as the next record of posts.classified, or at ``offset`` (a redelivery)."""
    return signals.process(p, next(OFFSETS) if offset is None else offset, signals.fingerprint_of(p))


M = timedelta(minutes=1)


@pytest.fixture
def signals():
    return Signals(Tables(), SignalConfig())


def test_an_exact_redelivery_is_a_no_op_and_a_refetch_is_reindexed_but_not_recounted(signals):
    first = process(signals, post(1))
    assert not first.redelivery and first.counts
    signals.sent("microblog:1")
    again = process(signals, post(1))
    assert again.redelivery and not again.counts
    later = process(signals, post(1, fetched=datetime(2026, 11, 28, tzinfo=timezone.utc)))
    assert not later.redelivery and not later.counts and not later.alerts and not later.messages()


def test_a_post_delivered_again_at_its_own_offset_is_sent_again_and_counted_once(signals):
    """The worker died before the offset was committed: the redelivery sends it all again."""
    text = "a battery report with enough words in it"
    first = process(signals, post(1, text, products=["xiaomi-14"]), offset=100)
    again = process(signals, post(1, text, products=["xiaomi-14"]), offset=100)
    assert not again.redelivery and again.post.id == "microblog:1"
    assert again.messages() == first.messages()  # the same latest values under the same keys
    assert all(sum(HourCounts.decode(value).minutes) == 1 for value in signals.t.counts.values())


def tables_of(signals: Signals) -> dict:
    return {name: copy.deepcopy(dict(getattr(signals.t, name))) for name in Tables.__dataclass_fields__}


def comparable(tables: dict) -> dict:
    """The tables, with each kept alert reduced to its id (an alert records when it was made)."""
    posts = {k: replace(entry, alerts=[json.loads(a)["id"] for a in entry.alerts])
             for k, entry in ((k, PostEntry.decode(v)) for k, v in tables["posts"].items())}  # fmt: skip
    return {**tables, "posts": posts}


def made(records: list) -> list[dict]:
    return [r.model_dump(exclude={"created_at", "updated_at"}) for r in records]


@pytest.mark.parametrize(
    "kept",
    [kept for n in range(len(Tables.__dataclass_fields__)) for kept in combinations(Tables.__dataclass_fields__, n)],
)
def test_whichever_of_a_posts_writes_survived_a_kill_it_counts_once_everywhere(kept):
    """Each table has its own changelog, so a kill may keep any subset of one post's writes.

    Delivered again at its offset, the post brings every table to the state one delivery gives.
    """
    signals = Signals(Tables(), burst_config(viral_velocity=2))
    process(signals, post(1, "the original review of the phone", author="reviewer"), offset=1)
    process(signals, post(2, "first repost of it", repost_of="microblog:1", at=M), offset=2)
    before = tables_of(signals)
    text = "wifi keeps disconnecting after the 1.0.6 update on my Xiaomi 14"
    repost = post(3, text, repost_of="microblog:1", intent="bug_report", products=["xiaomi-14"], at=2 * M,
                  versions=[{"line": "hyperos", "version": "1.0.6.0"}])  # fmt: skip
    once = process(signals, repost, offset=3)
    assert once.counts and once.items and once.cascades and [a.kind for a in once.alerts] == ["viral"]
    assert all(getattr(signals.t, name) != before[name] for name in Tables.__dataclass_fields__)  # it wrote each
    after = tables_of(signals)
    for name in Tables.__dataclass_fields__:  # the kill: only the tables in ``kept`` reached Kafka
        setattr(signals.t, name, copy.deepcopy((after if name in kept else before)[name]))
    signals.forget_recent()  # a restarted worker
    again = process(signals, repost, offset=3)
    assert comparable(tables_of(signals)) == comparable(after)
    assert again.counts == once.counts
    assert made(again.items) == made(once.items) and made(again.cascades) == made(once.cascades)
    assert made(again.alerts) == made(once.alerts)  # not yet sent: sent again
    signals.sent("microblog:3")
    assert process(signals, repost, offset=3).alerts == []  # sent: never again


def test_a_post_dated_ahead_of_its_fetch_does_not_make_later_posts_late(signals):
    """Event time never passes fetched_at: a clock hours ahead cannot run the watermark ahead."""
    process(signals, post(1, at=5 * H, fetched=T0))  # dated five hours after it was fetched
    outs = [process(signals, post(10 + i, at=i * M, fetched=T0 + i * M)) for i in range(30)]
    assert not any(o.late for o in outs) and signals.clock.late == 0
    assert signals.clock.watermark == (T0 + 29 * M).timestamp()


def test_a_post_dated_far_in_the_future_does_not_wipe_the_tables_on_expiry(signals):
    process(signals, post(1, "a battery report with enough words in it"))
    process(signals, post(2, at=timedelta(days=365 * 973)))  # 2999, fetched 2026-11-27
    signals.expire()
    assert "microblog:1" in signals.t.posts and signals.t.counts
    signals.sent("microblog:1")
    assert process(signals, post(1, "a battery report with enough words in it")).redelivery  # not counted twice


def test_a_near_duplicate_points_at_the_original_and_is_not_counted_again(signals):
    text = "After the HyperOS 1.0.7 update my battery drains overnight, lost 40 percent while idle"
    process(signals, post(1, text))
    dup = process(signals, post(2, text.upper() + "!!", at=M))
    other = process(signals, post(3, "Camera night mode is wonderful and sharp even indoors", at=2 * M))
    assert dup.post.duplicate_of == "microblog:1" and not dup.counts
    assert other.post.duplicate_of is None and other.counts


def test_a_post_processed_again_after_a_partial_crash_is_not_its_own_near_duplicate(signals):
    """The worker died mid-post: its ``posts`` entry never reached the changelog."""
    text = "After the HyperOS 1.0.7 update my battery drains overnight, lost 40 percent while idle"
    process(signals, post(1, text), offset=7)
    assert process(signals, post(2, text, at=M), offset=8).post.duplicate_of == "microblog:1"
    del signals.t.posts["microblog:1"], signals.t.posts["microblog:2"]
    signals.forget_recent()
    again = process(signals, post(1, text), offset=7)
    assert again.post.duplicate_of is None
    index = signals.recent.near_duplicates
    filed = [o for generation in (index.old, index.young) for o in generation.originals if o == "microblog:1"]
    assert len(filed) == 1  # filed once, and so once in each band


def test_near_duplicates_only_count_within_the_window_and_short_texts_never_match(signals):
    text = "After the HyperOS 1.0.7 update my battery drains overnight, lost 40 percent while idle"
    process(signals, post(1, text))
    assert process(signals, post(2, text, at=25 * H)).post.duplicate_of is None
    process(signals, post(3, "+1"))
    assert process(signals, post(4, "+1", at=M)).post.duplicate_of is None


def test_counts_per_minute_and_key_and_the_hour_up_to_the_watermark(signals):
    out = process(signals, post(1, products=["xiaomi-14"], intent="bug_report", at=90 * timedelta(seconds=1)))
    start = int(T0.timestamp())
    assert out.counts == {
        f"1m|topic=battery|sentiment=negative|{start + 60}": 1,
        f"1m|product=xiaomi-14|intent=bug_report|{start + 60}": 1,
    }
    out = process(signals, post(2, at=100 * timedelta(seconds=1)))
    assert out.counts[f"1m|topic=battery|sentiment=negative|{start + 60}"] == 2
    process(signals, post(3, at=50 * M))
    _, observed, _ = signals.current_window("topic=battery|sentiment=negative", signals.clock.watermark)
    assert observed == 3  # the hour up to 00:50 holds all three


def test_a_post_after_its_windows_closed_is_still_counted_and_one_older_than_the_counts_keep_is_not():
    signals = Signals(Tables(), SignalConfig(alerting=hopping("1h", 3600, 300, grace=120), retention_s=24 * 3600))
    start = int(T0.timestamp())
    process(signals, post(1, at=2 * H))  # watermark 02:00
    # Its newest window, 01:00–02:00, closed at 02:00 and has two minutes of grace.
    in_grace = process(signals, post(2, at=H + timedelta(seconds=30)))
    assert not in_grace.late and in_grace.counts == {f"1m|topic=battery|sentiment=negative|{start + 3600}": 1}
    late = process(signals, post(3, at=H - 5 * M))  # newest window 00:55–01:55, closed 5 minutes ago
    assert late.late and late.counts == {f"1m|topic=battery|sentiment=negative|{start + 3300}": 1}
    assert signals.clock.late == 1 and signals.clock.too_old == 0
    process(signals, post(4, at=30 * H))  # watermark 30:00; the counts keep 24 hours
    too_old = process(signals, post(5, at=4 * H))
    assert too_old.late and too_old.counts == {}
    assert (signals.clock.late, signals.clock.too_old) == (1, 1)


def test_a_late_post_fires_no_spike_but_feeds_the_baselines_of_later_windows():
    signals = Signals(Tables(), burst_config())
    feed_history(signals, 30, [1])
    base = signals.current_window("topic=battery|sentiment=negative", signals.clock.watermark)[2]
    outs = [process(signals, post(1000 + i, f"a late burst {i} of battery words", at=5 * H + i * M))
            for i in range(12)]  # fmt: skip
    assert all(o.late and o.counts for o in outs) and not [a for o in outs for a in o.alerts]
    later = signals.current_window("topic=battery|sentiment=negative", signals.clock.watermark + 3600)[2]
    assert later.mean > base.mean  # the hour they filled is in the next windows' baselines


def test_a_partition_that_runs_ahead_makes_no_other_late_and_one_gone_quiet_holds_none_back():
    wall = [0.0]
    signals = Signals(Tables(), SignalConfig(inputs=2, idle_input_s=60))
    signals.recent.clock.now = lambda: wall[0]
    ahead = [signals.process(post(1 + i, at=10 * H + i * M), i, None, partition=0) for i in range(3)]
    behind = [signals.process(post(10 + i, at=i * M), 10 + i, None, partition=1) for i in range(30)]
    assert not any(o.late for o in ahead + behind)  # partition 0 caught up first: nobody is late
    assert signals.clock.watermark == (T0 + 29 * M).timestamp()
    assert signals.clock.marks == {"0": (T0 + 10 * H + 2 * M).timestamp(), "1": (T0 + 29 * M).timestamp()}
    wall[0] = 61.0  # partition 1 went quiet: partition 0 alone moves the watermark
    signals.process(post(100, at=10 * H + 3 * M), 100, None, partition=0)
    assert signals.clock.watermark == (T0 + 10 * H + 3 * M).timestamp()
    assert signals.process(post(101, at=2 * H), 101, None, partition=1).late  # behind the watermark now


def test_when_every_partition_has_gone_quiet_the_watermark_is_the_newest_post_seen():
    wall = [0.0]
    signals = Signals(Tables(), SignalConfig(inputs=2, idle_input_s=60))
    clock = signals.recent.clock
    clock.now = lambda: wall[0]
    signals.process(post(1, at=5 * H), 0, None, partition=0)
    signals.process(post(2, at=H), 1, None, partition=1)
    assert clock.watermark == (T0 + H).timestamp() and not clock.stale and not clock.refresh()
    wall[0] = 61.0  # nothing more came: the stream has what it will get for now
    assert clock.stale and clock.refresh() and clock.watermark == (T0 + 5 * H).timestamp()
    assert not clock.stale


def burst_config(**kw) -> SignalConfig:
    return SignalConfig(spike=SpikeRule(k=3, min_count=5, min_history=4, cooldown_s=6 * 3600), **kw)


def feed_history(signals: Signals, hours: int, per_hour: list[int]) -> int:
    """Posts spread over whole hours; returns the next free post number."""
    n = 0
    for h in range(hours):
        for i in range(per_hour[h % len(per_hour)]):
            process(signals, post(n, at=h * H + (i + 1) * M, text=f"history {n} battery drain words"))
            n += 1
    return n


def test_a_burst_over_the_hand_computed_baseline_fires_once_with_its_numbers():
    signals = Signals(Tables(), burst_config())
    n = feed_history(signals, hours=8, per_hour=[1, 3])  # trailing hourly counts alternate 1, 3
    alerts = []
    for i in range(7):
        alerts += process(signals, post(1000 + i, at=8 * H + (i + 1) * M, text=f"burst {i} drain again")).alerts
    (alert,) = alerts
    # The trailing hour ends just after 08:07; its history is the 8 hours before it: 1,3,1,3,...
    assert alert.kind == "spike" and alert.key == "topic=battery|sentiment=negative"
    assert alert.baseline_mean == pytest.approx(2.0) and alert.baseline_std == pytest.approx(1.0)
    assert alert.threshold == pytest.approx(5.0)  # max(min_count 5, 2 + 3·1)
    assert alert.observed == 5
    assert alert.sample_post_ids[0] == "microblog:1000" and len(alert.samples) == 5
    assert n == 16


def test_no_alert_below_the_threshold_or_without_enough_history():
    signals = Signals(Tables(), burst_config())
    feed_history(signals, hours=8, per_hour=[1, 3])
    quiet = [process(signals, post(1000 + i, at=8 * H + (i + 1) * M)).alerts for i in range(4)]
    assert quiet == [[], [], [], []]
    fresh = Signals(Tables(), burst_config())
    assert not any(process(fresh, post(i, at=i * M)).alerts for i in range(30))  # no history yet


def test_a_second_burst_inside_the_cooldown_is_suppressed():
    signals = Signals(Tables(), burst_config())
    feed_history(signals, hours=8, per_hour=[1, 3])
    first = [a for i in range(7) for a in process(signals, post(1000 + i, at=8 * H + (i + 1) * M)).alerts]
    second = [a for i in range(20) for a in process(signals, post(2000 + i, at=9 * H + (i + 1) * M)).alerts]
    assert len(first) == 1 and second == []


def test_similar_bug_reports_join_one_item_and_a_different_one_opens_another(signals):
    texts = [
        "wifi keeps disconnecting after the 1.0.6 update on my Xiaomi 14",
        "after the 1.0.6 update wifi keeps disconnecting every few minutes",
        "1.0.6 update: wifi disconnecting constantly, please fix",
    ]
    outs = [process(signals, post(i, t, intent="bug_report", topic="connectivity", products=["xiaomi-14"],
                                 at=i * H, author=f"a{i % 2}")) for i, t in enumerate(texts)]  # fmt: skip
    items = [o.items[0] for o in outs]
    assert len({i.id for i in items}) == 1
    assert items[-1].count == 3 and items[-1].unique_authors == 2
    assert items[-1].product == "xiaomi-14" and items[-1].topic == "connectivity" and items[-1].intent == "bug_report"
    assert items[-1].title in texts and items[-1].trend == {"2026-11-20": 3}
    other = process(signals, post(9, "the camera app crashes when I open portrait mode", intent="bug_report",
                                 topic="connectivity", products=["xiaomi-14"], at=4 * H))  # fmt: skip
    assert other.items[0].id != items[0].id and other.items[0].count == 1
    praise = process(signals, post(10, "love it", intent="praise", at=5 * H))
    assert praise.items == []


def noisy(direction: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A report's sentence vector: its bug's direction, a little apart in each report."""
    v = direction + rng.normal(scale=0.02, size=direction.shape)
    return v / np.linalg.norm(v)


def test_one_bug_reported_in_three_languages_joins_one_item_whatever_its_reports_labels(signals):
    """By sentence vector: the classifier's product, topic and even intent differ across languages."""
    rng = np.random.default_rng(5)
    wifi, camera = rng.normal(size=(2, 512))
    reports = [("zh", "bug_report", "connectivity", ["xiaomi-14"]), ("ko", "feature_request", "os_update", []),
               ("en", "bug_report", "connectivity", ["redmi-note-13", "xiaomi-14"])]  # fmt: skip
    outs = [signals.process(post(i, f"report {i}", intent=intent, topic=topic, products=products, language=language,
                                 at=i * H), i, None, noisy(wifi, rng))
            for i, (language, intent, topic, products) in enumerate(reports)]  # fmt: skip
    assert len({o.post.item_id for o in outs}) == 1 and outs[0].post.item_id == outs[-1].items[0].id
    item = outs[-1].items[0]
    assert item.languages == {"zh": 1, "ko": 1, "en": 1} and item.count == 3
    # The most common among its posts (the first named wins a tie).
    assert (item.intent, item.product, item.topic) == ("bug_report", "xiaomi-14", "connectivity")
    other = signals.process(post(9, "report 9", intent="bug_report", language="zh", at=4 * H), 9, None,
                            noisy(camera, rng))  # fmt: skip
    assert other.post.item_id != item.id and other.items[0].count == 1


def test_a_reply_joins_the_open_item_of_the_post_it_answers_whatever_its_words(signals):
    rng = np.random.default_rng(7)
    wifi, camera = rng.normal(size=(2, 512))

    def report(n: int, at: timedelta, direction: np.ndarray, parent: int | None = None, intent: str = "bug_report"):
        p = post(n, f"report {n}", intent=intent, at=at, fetched=T0 + at + H,
                 parent_id=f"microblog:{parent}" if parent else None)  # fmt: skip
        return signals.process(p, n, None, noisy(direction, rng) if intent == "bug_report" else None).post.item_id

    thread, camera_item = report(1, 0 * H, wifi), report(2, 1 * H, camera)
    assert thread != camera_item
    assert report(3, 2 * H, camera, parent=1) == thread  # a workaround in the WiFi thread, worded like the camera bug
    assert report(4, 3 * H, camera) == camera_item  # the same words outside a thread
    report(5, 4 * H, camera, intent="praise")  # in no item
    assert report(6, 5 * H, camera, parent=5) == camera_item  # its parent has no item: placed by its vector
    assert report(7, 16 * 24 * H, wifi, parent=1) != thread  # the thread's item closed when it went idle


def test_a_restarted_worker_places_a_post_as_before_from_the_items_it_reads_back():
    """The centres and the items' vectors are rebuilt from the items table, so the choice is the same."""
    rng = np.random.default_rng(6)
    bugs = rng.normal(size=(3, 512))
    languages = ["zh", "ko", "en"]
    posts = [(post(i, f"report {i}", intent="bug_report", language=languages[i % 3], at=i * M), noisy(bugs[i % 2], rng))
             for i in range(12)]  # fmt: skip
    last, last_vector = post(12, "report 12", intent="bug_report", language="ko", at=12 * M), noisy(bugs[1], rng)
    kept = Signals(Tables(), SignalConfig())
    for i, (p, v) in enumerate(posts):
        kept.process(p, i, None, v)
    restarted = Signals(Tables(**tables_of(kept)), SignalConfig())
    np.testing.assert_allclose(restarted.recent.centres.centres(), kept.recent.centres.centres(), atol=1e-4)
    again = restarted.process(last, 12, None, last_vector)
    assert again.post.item_id == kept.process(last, 12, None, last_vector).post.item_id


def test_a_cascade_follows_reposts_to_the_root_with_depth_and_reach(signals):
    process(signals, post(1, "original review", author="reviewer", followers=100_000))
    a = process(signals, post(2, "+1", repost_of="microblog:1", author="a", followers=100, at=M))
    b = process(signals, post(3, "same", repost_of="microblog:2", author="b", followers=50, at=2 * M))
    c = process(signals, post(4, "again", repost_of="microblog:3", author="a", followers=100, at=3 * M))
    assert a.cascades[0].depth == 1 and b.cascades[0].depth == 2
    final = c.cascades[0]
    assert final.root_id == "microblog:1" and final.root_author_id == "reviewer"
    assert final.reposts == 3 and final.depth == 3
    assert final.reach == 150  # each reposting author's followers counted once
    assert final.top_amplifiers[0].author_id == "a" and final.top_amplifiers[0].reposts == 2
    assert final.velocity == 3


def test_a_repost_of_an_unseen_post_starts_its_cascade_there(signals):
    out = process(signals, post(5, "+1", repost_of="microblog:999", followers=7))
    assert out.cascades[0].root_id == "microblog:999" and out.cascades[0].depth == 1


def test_a_fast_cascade_raises_one_viral_alert():
    signals = Signals(Tables(), SignalConfig(viral_velocity=5))
    process(signals, post(1, "the original", author="root"))
    alerts = []
    for i in range(12):
        alerts += process(signals, post(10 + i, f"rt {i}", repost_of="microblog:1", at=(i + 1) * M)).alerts
    (viral,) = alerts
    assert viral.kind == "viral" and viral.dimensions == {"root": "microblog:1"} and viral.observed == 5
    assert viral.window_end - viral.window_start == timedelta(minutes=10)


def test_slow_reposts_never_go_viral():
    signals = Signals(Tables(), SignalConfig(viral_velocity=5))
    process(signals, post(1, "the original"))
    outs = [process(signals, post(10 + i, "rt", repost_of="microblog:1", at=(i + 1) * 11 * M)) for i in range(10)]
    assert all(not o.alerts for o in outs) and outs[-1].cascades[0].velocity == 1


def test_expiry_forgets_old_state_in_event_time():
    signals = Signals(Tables(), SignalConfig(retention_s=2 * 3600, near_dup_window_s=3600))
    process(signals, post(1, "an old post about battery drain problems"))
    process(signals, post(2, "a new post about the camera being great", at=5 * H))
    removed = signals.expire()
    assert removed > 0
    assert "microblog:1" not in signals.t.posts and "microblog:2" in signals.t.posts
    assert all(int(k.rsplit("|", 1)[1]) >= T0.timestamp() + 3 * 3600 for k in signals.t.counts)
