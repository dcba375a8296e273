from canyu.schema import Channel, Subscription
from canyu_runtime.subscriptions import fold


def sub(sub_id: str, name: str) -> bytes:
    return Subscription(id=sub_id, name=name, channel=Channel(type="kafka", target="t")).model_dump_json().encode()


def test_the_latest_value_per_key_wins_and_tombstones_remove():
    records = [(b"a", sub("a", "first")), (b"b", sub("b", "bee")), (b"a", sub("a", "second")), (b"b", None)]
    current = fold(records)
    assert list(current) == ["a"]
    assert current["a"].name == "second"


def test_a_tombstone_for_an_unknown_key_is_harmless():
    assert fold([(b"x", None)]) == {}


def test_a_stored_subscription_that_is_no_longer_valid_is_ignored_not_fatal():
    bad = sub("b", "old").replace(b'"target":"t"', b'"target":"t t"')
    current = fold([(b"a", sub("a", "ok")), (b"b", bad)])
    assert list(current) == ["a"]
