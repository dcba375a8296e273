"""The subscription registry: a compacted Kafka topic that every worker and UI reads.

One of the registries of :mod:`canyu_runtime.registry`, under each subscription's id.
Both the CLI and the dashboard manage subscriptions through :class:`SubscriptionStore`;
every worker follows them with :class:`SubscriptionFollower`.
"""

from __future__ import annotations

from canyu import topics
from canyu.schema import Subscription
from canyu.settings import Settings
from canyu_runtime import registry


def fold(records: list[tuple[bytes, bytes | None]]) -> dict[str, Subscription]:
    """The current subscriptions that ``records`` of the topic mean; one stored before its target was
    checked (it could never be delivered) is ignored."""
    return registry.fold(records, Subscription)


class SubscriptionStore(registry.Registry[Subscription]):
    def __init__(self, settings: Settings):
        super().__init__(settings, topics.SUBSCRIPTIONS, Subscription, key="id")


class SubscriptionFollower(registry.Follower):
    """Every subscription's latest JSON by id, for ``notify``: see :class:`~canyu_runtime.registry.Follower`."""

    def __init__(self, settings: Settings, poll_ms: int = 500):
        super().__init__(settings, topics.SUBSCRIPTIONS, poll_ms)
