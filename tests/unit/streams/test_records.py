"""The records the stateful step's tables store (streams/records.py): compact, and readable when older."""

from __future__ import annotations

from datetime import timedelta

from streams.records import Cooldown, HourCounts, PostEntry, Stamped
from streams.signals import RECORDS, SignalConfig, Signals, Tables
from tests.unit.streams.factories import post

M = timedelta(minutes=1)


def test_every_record_round_trips_as_a_json_list_of_its_fields_in_order():
    entry = PostEntry(7, 1.5, 2.5, None, 12, "microblog:1", 0, "a", late=True, item="item-1", alerts=["{}"])
    assert entry.encode() == [7, 1.5, 2.5, None, 12, "microblog:1", 0, "a", True, False, "-", "item-1", ["{}"]]
    assert PostEntry.decode(entry.encode()) == entry
    assert PostEntry.decode(entry.encode()[:8]) == PostEntry(7, 1.5, 2.5, None, 12, "microblog:1", 0, "a")
    assert HourCounts.decode([3, [0, 2]]) == HourCounts(3, [0, 2])
    assert Cooldown.decode([100.0, 4]).offset == 4


def legacy(name: str, value: list) -> object:
    """A value as the worker stored it before these records: dicts with short keys."""
    record = RECORDS[name].decode(value)
    if isinstance(record, Stamped):
        return {"o": record.offset, **record.state}
    if name in ("cooldowns", "product_days", "sightings"):
        return value  # their layout did not change
    return {short: getattr(record, full) for short, full in type(record).LEGACY.items()}


def test_a_worker_restarted_on_tables_written_before_the_records_goes_on_exactly():
    config = SignalConfig()
    text = "wifi keeps disconnecting after the update on my Xiaomi 14, a bug"
    old, new = Signals(Tables(), config), Signals(Tables(), config)
    for signals in (old, new):
        signals.process(post(1, "the original review of the phone"), 1, None)
        signals.process(post(2, text, repost_of="microblog:1", intent="bug_report", at=M), 2, None)
    for name in Tables.__dataclass_fields__:  # the old worker's tables, as it would have stored them
        table = getattr(old.t, name)
        table.update({key: legacy(name, value) for key, value in table.items()})
    old.forget_recent()
    again = [s.process(post(3, text + " again", repost_of="microblog:1", intent="bug_report", at=2 * M), 3, None)
             for s in (old, new)]  # fmt: skip
    assert again[0].counts == again[1].counts and again[0].cascades[0].reposts == again[1].cascades[0].reposts == 2
    assert again[0].post.item_id == again[1].post.item_id
    redelivered = old.process(post(2, text, repost_of="microblog:1", intent="bug_report", at=M), 2, None)
    assert redelivered.redelivery is False and not redelivered.alerts  # read from its legacy entry
