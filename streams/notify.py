"""Which subscriptions an alert concerns, and the notifications it becomes."""

from __future__ import annotations

import uuid

from canyu.schema import Alert, Notification, Subscription

_NAMESPACE = uuid.UUID("6f1d3c55-2b1e-4c39-9a55-5a9e0d7c1a10")


def matches(subscription: Subscription, alert: Alert) -> bool:
    m = subscription.match
    dims = alert.dimensions
    checks = [
        (m.alert_kinds, alert.kind),
        (m.topics, dims.get("topic")),
        (m.products, dims.get("product")),
        (m.intents, dims.get("intent")),
        (m.sentiments, dims.get("sentiment")),
    ]
    if any(wanted and value not in wanted for wanted, value in checks):
        return False
    if m.query and not any(m.query.lower() in text.lower() for text in alert.samples):
        return False
    return subscription.min_observed is None or alert.observed >= subscription.min_observed


def notification_id(subscription: Subscription, alert: Alert) -> str:
    """Stable for a (subscription, alert) pair, so a redelivery carries the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{subscription.id}|{alert.id}"))


def notifications(alert: Alert, subscriptions: list[Subscription]) -> list[Notification]:
    return [
        Notification(id=notification_id(s, alert), subscription_id=s.id, channel=s.channel, alert=alert)
        for s in subscriptions
        if matches(s, alert)
    ]
