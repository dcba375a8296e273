from datetime import datetime, timezone

from canyu.schema import Alert, Channel, Subscription, SubscriptionMatch
from streams.notify import matches, notification_id, notifications

T = datetime(2026, 11, 20, tzinfo=timezone.utc)
ALERT = Alert(id="spike|k|1", kind="spike", key="k", dimensions={"topic": "battery", "sentiment": "negative"},
              window_start=T, window_end=T, observed=20, baseline_mean=2, baseline_std=1, threshold=10,
              samples=["电池掉电太快了 after the update"])  # fmt: skip
KAFKA = Channel(type="kafka", target="x")


def sub(sub_id="s", min_observed=None, **match) -> Subscription:
    return Subscription(id=sub_id, name=sub_id, match=SubscriptionMatch(**match), channel=KAFKA,
                        min_observed=min_observed)  # fmt: skip


def test_an_empty_match_takes_every_alert():
    assert matches(sub(), ALERT)


def test_each_given_field_must_match():
    assert matches(sub(topics=["battery", "camera"], sentiments=["negative"]), ALERT)
    assert not matches(sub(topics=["camera"]), ALERT)
    assert not matches(sub(products=["xiaomi-14"]), ALERT)  # the alert is not about a product
    assert not matches(sub(alert_kinds=["viral"]), ALERT)


def test_query_looks_in_the_sample_posts_and_threshold_in_the_count():
    assert matches(sub(query="掉电"), ALERT)
    assert not matches(sub(query="camera"), ALERT)
    assert matches(sub(min_observed=20), ALERT) and not matches(sub(min_observed=21), ALERT)


def test_notification_ids_are_stable_per_subscription_and_alert():
    a, b = sub("a"), sub("b")
    assert notification_id(a, ALERT) == notification_id(a, ALERT) != notification_id(b, ALERT)
    assert [n.subscription_id for n in notifications(ALERT, [a, b, sub("c", topics=["camera"])])] == ["a", "b"]
