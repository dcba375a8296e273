"""The release loop in the stateful step, on a replayed scenario (docs/releases.md tells the same story).

HyperOS 1.0.7.0 ships on 2026-11-20. Before it, a battery drain and a camera crash are reported
every day. After it, a WiFi bug opens, reported in Chinese, Korean and English, most reports naming
1.0.7.0; the camera crash stops; the battery drain goes on. Each bug's reports carry one sentence
vector with a little noise, as the classifier's multilingual vectors do for one bug in any language.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import numpy as np
import pytest

from canyu.lifecycle import apply
from canyu.schema import ItemChange, Release
from streams.signals import Outputs, SignalConfig, Signals, Tables
from streams.watch import StaticRegistries
from tests.unit.streams.factories import post

D = datetime(2026, 11, 20, tzinfo=timezone.utc)
DAY = timedelta(days=1)
H = timedelta(hours=1)
RNG = np.random.default_rng(7)
BUGS = {name: RNG.normal(size=512) for name in ("battery", "camera", "wifi", "bluetooth")}
V107 = [{"line": "hyperos", "version": "1.0.7.0"}]
V108 = [{"line": "hyperos", "version": "1.0.8.0"}]


def vector(bug: str) -> np.ndarray:
    v = BUGS[bug] + RNG.normal(scale=0.15, size=512)
    return v / np.linalg.norm(v)


class Replay:
    def __init__(self, registries: StaticRegistries | None = None):
        self.registries = registries or StaticRegistries()
        self.signals = Signals(Tables(), SignalConfig(), self.registries)
        self.offsets = count()
        self.numbers = count(1)
        self.outs: list[Outputs] = []

    def report(self, bug: str, when: datetime, *, language="en", versions=(), author=None, topic=None, **kw):
        n = next(self.numbers)
        p = post(n, f"{bug} report {n}", at=when - datetime(2026, 11, 20, tzinfo=timezone.utc), intent="bug_report",
                 topic=topic or bug, products=["hyperos"], language=language, versions=list(versions),
                 author=author, fetched=when + H, **kw)  # fmt: skip
        out = self.signals.process(p, next(self.offsets), None, vector(bug))
        self.outs.append(out)
        return out

    def praise(self, when: datetime):
        n = next(self.numbers)
        p = post(n, f"love it {n}", at=when - D, intent="praise", sentiment="positive", products=["hyperos"],
                 fetched=when + H)  # fmt: skip
        self.outs.append(self.signals.process(p, next(self.offsets), None))

    def sync(self) -> Outputs:
        out = Outputs(None)
        self.signals.watch.sync(next(self.offsets), out)
        self.outs.append(out)
        return out

    def alerts(self, kind: str) -> list:
        return [a for out in self.outs for a in out.alerts if a.kind == kind]

    def latest_items(self) -> dict:
        """Each item as it was last sent."""
        return {item.id: item for out in self.outs for item in out.items}

    def item_of(self, bug: str) -> str:
        ids = {out.post.item_id for out in self.outs if out.post and out.post.text.startswith(bug)}
        (item_id,) = ids
        return item_id


def the_week_around_1_0_7_0(replay: Replay) -> None:
    replay.registries.add_release(Release(product="hyperos", version="1.0.7.0", date=D))
    for day in range(-6, 0):
        replay.praise(D + day * DAY + 9 * H)
        replay.report("camera", D + day * DAY + 10 * H)
        replay.report("camera", D + day * DAY + 11 * H)
        if day >= -5:
            replay.report("battery", D + day * DAY + 12 * H)
    languages = ["zh", "ko", "en", "zh", "ko", "en"]
    for day in range(0, 6):
        replay.praise(D + day * DAY + 9 * H)
        replay.report("battery", D + day * DAY + 12 * H)
        if day < 3:
            for k in range(2):
                i = 2 * day + k
                replay.report("wifi", D + day * DAY + (13 + k) * H, language=languages[i],
                              versions=V107 if i % 3 else (), topic="connectivity")  # fmt: skip


def test_a_release_shows_what_it_brought_what_went_quiet_and_what_persists():
    replay = Replay()
    the_week_around_1_0_7_0(replay)
    (impact,) = replay.signals.watch.impacts()
    assert impact.id == "hyperos|1.0.7.0" and impact.source == "registered"
    (regression,) = impact.regressions
    assert regression.item_id == replay.item_of("wifi")
    assert regression.opened_after and (regression.before, regression.after) == (0, 6)
    assert regression.version_share == round(4 / 6, 4)
    assert regression.languages == {"zh": 2, "ko": 2, "en": 2}
    assert regression.evidence and all(e.created_at >= D for e in regression.evidence)
    assert "hyperos 1.0.7.0" in regression.evidence[0].versions  # the posts naming the version come first
    (quiet,) = impact.quieted
    assert quiet.item_id == replay.item_of("camera") and (quiet.before, quiet.after) == (12, 0)
    assert all(e.created_at < D for e in quiet.evidence)
    (persisting,) = impact.persisting
    assert persisting.item_id == replay.item_of("battery") and (persisting.before, persisting.after) == (5, 6)
    # The product's posts: negative before 17 of 23, after 12 of 18.
    assert (impact.negative_before.count, impact.negative_before.total) == (17, 23)
    assert (impact.negative_after.count, impact.negative_after.total) == (12, 18)
    assert impact.negative_before.low < impact.negative_before.share < impact.negative_before.high
    assert impact.negative_change == round(12 / 18 - 17 / 23, 4)
    assert replay.signals.watch.impacts() == []  # nothing new since


def test_an_item_that_people_say_the_release_fixed_went_quiet_it_did_not_regress():
    """ "Bluetooth works again on 1.0.7.0" joins the Bluetooth item it is about and names the release,
    but reports no bug: counted as posts, the item would have doubled after the release."""
    replay = Replay()
    the_week_around_1_0_7_0(replay)
    for day in (-4, -3, -2):
        replay.report("bluetooth", D + day * DAY + 15 * H)
    replay.report("bluetooth", D + DAY + 15 * H)  # one report after, and five posts saying it is gone
    for k in range(5):
        replay.report("bluetooth", D + (2 + k // 2) * DAY + (16 + k) * H, versions=V107, sentiment="positive",
                      author=f"happy{k}")  # fmt: skip
    bluetooth = replay.item_of("bluetooth")
    (impact,) = replay.signals.watch.impacts()
    assert bluetooth not in [i.item_id for i in impact.regressions + impact.persisting]
    (quiet,) = [i for i in impact.quieted if i.item_id == bluetooth]
    assert (quiet.before, quiet.after) == (3, 1)
    assert [a.dimensions["item"] for a in replay.alerts("regression")] == [replay.item_of("wifi")]


def test_the_regression_alerts_once_when_the_item_reaches_the_minimum_after_the_release():
    replay = Replay()
    the_week_around_1_0_7_0(replay)
    (alert,) = replay.alerts("regression")
    assert alert.dimensions["product"] == "hyperos" and alert.dimensions["release"] == "hyperos|1.0.7.0"
    assert alert.dimensions["item"] == replay.item_of("wifi") and alert.dimensions["topic"] == "connectivity"
    assert alert.observed == 3 and alert.threshold == 3  # raised by the third report, not before
    assert len(alert.samples) == 3


def test_one_bug_in_three_languages_joins_one_item_and_another_bug_does_not():
    replay = Replay()
    the_week_around_1_0_7_0(replay)
    wifi = [out.post.item_id for out in replay.outs if out.post and out.post.text.startswith("wifi")]
    assert len(set(wifi)) == 1
    items = {out.post.item_id for out in replay.outs if out.post and out.post.item_id}
    assert len(items) == 3


def test_a_release_registered_after_its_posts_is_judged_on_the_same_history():
    early, late = Replay(), Replay()
    the_week_around_1_0_7_0(early)
    the_week_around_1_0_7_0(late)  # the same posts, then the release is taken back and given again
    late.registries.releases_.clear()
    late.registries.version += 1
    late.sync()
    late.registries.add_release(Release(product="hyperos", version="1.0.7.0", date=D))
    late.sync()
    (a,), (b,) = early.signals.watch.impacts(), late.signals.watch.impacts()
    assert a.model_dump(exclude={"updated_at"}) == b.model_dump(exclude={"updated_at"})


def fixed_in(replay: Replay, bug: str, version: str) -> None:
    lifecycle = apply(None, replay.item_of(bug), ItemChange(action="fix", version=version, note="patched", by="cli"))
    replay.registries.set_lifecycle(lifecycle)


def test_a_fix_that_ships_and_stays_quiet_is_verified_and_one_that_did_not_hold_alerts_once():
    replay = Replay()
    the_week_around_1_0_7_0(replay)
    for k, day in enumerate((3, 3, 4)):  # a Bluetooth bug, before its fix ships
        replay.report("bluetooth", D + day * DAY + 15 * H, author=f"bt{k}")
    fixed_in(replay, "wifi", "1.0.8.0")
    fixed_in(replay, "bluetooth", "1.0.8.0")
    items = {i.id: i for i in replay.sync().items}
    assert items[replay.item_of("wifi")].status == "fixed"  # 1.0.8.0 has not shipped yet
    assert [c.action for c in items[replay.item_of("wifi")].history] == ["fix"]
    shipped = D + 5 * DAY
    replay.registries.add_release(Release(product="hyperos", version="1.0.8.0", date=shipped))
    replay.sync()
    # The Bluetooth bug is reported again by people who run 1.0.8.0.
    replay.report("bluetooth", shipped + 20 * H, versions=V108, author="bt0")
    replay.report("bluetooth", shipped + 22 * H, versions=V108, author="bt9")
    (failed,) = replay.alerts("fix_failed")
    assert failed.dimensions["item"] == replay.item_of("bluetooth") and failed.dimensions["version"] == "1.0.8.0"
    assert failed.observed == 2 and failed.samples
    for day in range(6, 11):  # the stream goes on; the WiFi bug is never reported again
        replay.praise(D + day * DAY)
    replay.report("bluetooth", D + 10 * DAY, versions=V108)
    assert len(replay.alerts("fix_failed")) == 1  # once per item and version
    items = replay.latest_items()
    wifi, bluetooth = items[replay.item_of("wifi")], items[replay.item_of("bluetooth")]
    assert wifi.status == "verified" and wifi.fixed_in == "1.0.8.0"
    assert [(c.action, c.by) for c in wifi.history] == [("fix", "cli"), ("verified", "canyu")]
    assert wifi.history[-1].at == shipped + 4 * DAY  # the grace day, then three quiet days
    assert bluetooth.status == "fix_failed" and bluetooth.history[-1].action == "fix_failed"
    # 1.0.7.0's window closed before the fix was verified: its impact shows the item's status all the same.
    impacts = {impact.id: impact for impact in replay.signals.watch.impacts()}
    shown = {i.item_id: i.status for i in impacts["hyperos|1.0.7.0"].regressions}
    assert shown == {wifi.id: "verified", bluetooth.id: "fix_failed"}  # both opened after 1.0.7.0


def test_posts_that_say_the_fix_works_join_its_item_but_do_not_count_against_the_fix():
    """ "1.0.8.0 fixed my WiFi!" is about the WiFi item, and names the fixed version: it reads positive,
    so it is no report that the fix did not hold, nor one that keeps the fix from being verified."""
    replay = Replay()
    the_week_around_1_0_7_0(replay)
    fixed_in(replay, "wifi", "1.0.8.0")
    shipped = D + 5 * DAY
    replay.registries.add_release(Release(product="hyperos", version="1.0.8.0", date=shipped))
    replay.sync()
    for k, hours in enumerate((20, 30, 50)):  # in the grace and after it
        replay.report("wifi", shipped + hours * H, versions=V108, sentiment="positive", author=f"happy{k}")
    for day in range(6, 11):
        replay.praise(D + day * DAY)
    wifi = replay.latest_items()[replay.item_of("wifi")]
    assert wifi.count == 9 and replay.alerts("fix_failed") == []
    assert wifi.status == "verified" and wifi.history[-1].at == shipped + 4 * DAY


def test_a_version_named_by_enough_authors_in_a_day_is_a_release_seen_in_posts():
    replay = Replay()
    mention = [{"line": "miui", "version": "15.0.8"}]
    first = D + 2 * H
    replay.report("battery", first, versions=mention, author="a0")
    replay.report("battery", first + 30 * H, versions=mention, author="a1")  # more than a day after the first
    for k in range(2, 5):
        replay.report("battery", first + (30 + k) * H, versions=mention, author=f"a{k}")
    assert not [r for out in replay.outs for r in out.releases]  # four authors within a day
    replay.report("battery", first + 36 * H, versions=mention, author="a1")  # the same author again
    assert not [r for out in replay.outs for r in out.releases]
    replay.report("battery", first + 37 * H, versions=mention, author="a5")
    (seen,) = [r for out in replay.outs for r in out.releases]
    assert (seen.product, seen.version, seen.source, seen.authors) == ("miui", "15.0.8", "seen", 5)
    assert seen.date == first  # first named, not when it became a release
    replay.report("battery", first + 38 * H, versions=mention, author="a6")
    assert len([r for out in replay.outs for r in out.releases]) == 1


def test_a_seen_release_is_dated_by_its_earliest_mention_whatever_order_the_posts_come_in():
    replay = Replay()
    mention = [{"line": "miui", "version": "15.0.8"}]
    for k in range(5):
        replay.report("battery", D + (10 + k) * H, versions=mention, author=f"a{k}")
    replay.report("battery", D + 3 * H, versions=mention, author="early")  # read last, written first
    first, moved = [r for out in replay.outs for r in out.releases]
    assert (first.date, moved.date) == (D + 10 * H, D + 3 * H) and moved.key == first.key
    replay.report("battery", D + 5 * H, versions=mention, author="a9")  # not earlier than what is known
    assert len([r for out in replay.outs for r in out.releases]) == 2


def test_a_version_a_team_registered_is_not_announced_again_as_seen():
    replay = Replay()
    replay.registries.add_release(Release(product="miui", version="15.0.8", date=D))
    for k in range(6):
        replay.report("battery", D + k * H, versions=[{"line": "miui", "version": "15.0.8"}], author=f"a{k}")
    assert not [r for out in replay.outs for r in out.releases]


def test_an_item_no_post_joins_for_the_idle_time_is_sent_closed_and_forgotten():
    replay = Replay()
    replay.report("camera", D)
    item_id = replay.item_of("camera")
    replay.praise(D + 15 * DAY)
    out = Outputs(None)
    replay.signals.expire(out=out)
    (closed,) = out.items
    assert closed.id == item_id and closed.status == "closed"
    assert item_id not in replay.signals.t.items
    assert all(item_id not in ids for ids in replay.signals.recent.items_by_product.values())


@pytest.mark.parametrize("restart", [False, True])
def test_what_people_said_is_applied_once_and_survives_a_restart(restart):
    replay = Replay()
    replay.report("wifi", D)
    item_id = replay.item_of("wifi")
    replay.registries.set_lifecycle(apply(None, item_id, ItemChange(action="ack", note="on it")))
    (acked,) = replay.sync().items
    assert acked.status == "acknowledged" and acked.history[0].note == "on it"
    if restart:
        replay.signals.forget_recent()
    assert replay.sync().items == []  # nothing new to apply
    replay.report("wifi", D + H)
    assert replay.outs[-1].items[0].status == "acknowledged"
