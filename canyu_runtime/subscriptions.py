"""The subscription registry: a compacted Kafka topic that every worker and UI reads.

The latest record per subscription id wins; a tombstone (null value) removes it.
Both the CLI and the dashboard manage subscriptions through this one class.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from canyu import topics
from canyu.schema import Subscription
from canyu.settings import Settings
from canyu_runtime.kafka_clients import make_producer, read_all
from canyu_runtime.reasons import reason_of

log = logging.getLogger(__name__)


def fold(records: list[tuple[bytes, bytes | None]]) -> dict[str, Subscription]:
    """What a compacted topic means: the last value per key, with tombstones removing."""
    current: dict[str, Subscription] = {}
    for key, value in records:
        sub_id = key.decode()
        if value is None:
            current.pop(sub_id, None)
        else:
            try:
                current[sub_id] = Subscription.model_validate_json(value)
            except ValidationError as e:  # stored before targets were checked: it could never be delivered
                log.warning("subscription %s is ignored: %s", sub_id, reason_of(e))
                current.pop(sub_id, None)
    return current


class SubscriptionStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.topic = settings.topic(topics.SUBSCRIPTIONS)

    def _send(self, key: str, value: bytes | None) -> None:
        producer = make_producer(self.settings)
        try:
            producer.send(self.topic, key=key.encode(), value=value).get(timeout=30)
        finally:
            producer.close()

    def put(self, subscription: Subscription) -> None:
        self._send(subscription.id, subscription.model_dump_json().encode())

    def remove(self, subscription_id: str) -> bool:
        """Tombstone the subscription; False when there was none with that id."""
        if subscription_id not in self.current():
            return False
        self._send(subscription_id, None)
        return True

    def current(self) -> dict[str, Subscription]:
        return fold([(r.key, r.value) for r in read_all(self.settings, self.topic)])
