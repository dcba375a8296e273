"""The worker's agents, one method each; ``streams.app`` declares the topics and tables and wires them.

Each agent reads one stream and sends what it makes to the topics it is given, so an agent can
be driven through Faust's ``test_context()`` without a broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from dataclasses import dataclass

import faust

from canyu import topics
from canyu.schema import Alert, DeadLetter, EnrichedPost, Subscription
from canyu.settings import Settings
from canyu_runtime import dead_letters
from models import Classifier
from streams.enrich import RawRecord, enrich_batch
from streams.notify import notifications
from streams.products import Catalogue
from streams.signals import Signals

log = logging.getLogger(__name__)
EXPIRY_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Topics:
    """Every topic the worker reads or writes; keys and values stay raw bytes."""

    raw: faust.TopicT
    classified: faust.TopicT
    enriched: faust.TopicT
    dead_letters: faust.TopicT
    alerts: faust.TopicT
    items: faust.TopicT
    cascades: faust.TopicT
    counts: faust.TopicT
    subscriptions: faust.TopicT
    notifications: faust.TopicT

    @classmethod
    def declare(cls, app: faust.App, settings: Settings) -> Topics:
        def topic(name: str, **kwargs) -> faust.TopicT:
            return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw", **kwargs)

        return cls(
            raw=topic(topics.POSTS_RAW),
            classified=topic(topics.POSTS_CLASSIFIED, partitions=1),
            enriched=topic(topics.POSTS_ENRICHED),
            dead_letters=topic(topics.DEAD_LETTERS),
            alerts=topic(topics.ALERTS),
            items=topic(topics.FEEDBACK_ITEMS),
            cascades=topic(topics.CASCADES),
            counts=topic(topics.COUNTS),
            subscriptions=topic(topics.SUBSCRIPTIONS),
            notifications=topic(topics.NOTIFICATIONS),
        )


async def _send(topic: faust.TopicT, key: str, value: str) -> None:
    await topic.send(key=key.encode(), value=value.encode())


@dataclass
class Agents:
    """``enrich``, ``signals``, ``subscriptions`` and ``notify``, and what they share.

    ``subscriptions`` maps subscription id to its JSON, as the compacted topic does: a table
    that every worker holds whole, because any worker may own a partition of ``alerts``.
    """

    topics: Topics
    classifier: Classifier
    catalogue: Catalogue
    state: Signals
    subscriptions_by_id: MutableMapping[bytes, bytes]
    batch_size: int
    batch_wait_s: float

    async def enrich(self, stream: faust.StreamT) -> None:
        """Classify raw posts in batches and find their product mentions; bad records become dead letters."""
        async for events in stream.take_events(self.batch_size, within=self.batch_wait_s):
            records = [
                RawRecord(e.value, e.message.topic, e.message.partition, e.message.offset, _text(e.key)) for e in events
            ]
            for result in enrich_batch(records, self.classifier):
                if isinstance(result, DeadLetter):
                    log.warning("dead letter at offset %s: %s", result.offset, result.reason)
                    key, value = dead_letters.message(result)
                    await self.topics.dead_letters.send(key=key, value=value)
                    continue
                result = result.model_copy(update={"products": self.catalogue.mentions(result.full_text)})
                await _send(self.topics.classified, result.id, result.model_dump_json())

    async def signals(self, stream: faust.StreamT) -> None:
        """The stateful step: every classified post through :class:`Signals`, then its outputs sent."""
        expired_at = time.monotonic()
        async for value in stream:
            post = EnrichedPost.model_validate_json(value)
            out = self.state.process(post)  # every table write happens here, before any await
            if time.monotonic() - expired_at > EXPIRY_INTERVAL_S:
                # Faust lets tables change only while an event is being processed, so expiry runs here.
                expired_at = time.monotonic()
                log.info("expired %d entries older than the retention", self.state.expire())
            if out.redelivery:
                continue
            await _send(self.topics.enriched, post.id, out.post.model_dump_json())
            for key, count in out.counts.items():
                await _send(self.topics.counts, key, str(count))
            for item in out.items:
                await _send(self.topics.items, item.id, item.model_dump_json())
            for cascade in out.cascades:
                await _send(self.topics.cascades, cascade.root_id, cascade.model_dump_json())
            for alert in out.alerts:
                log.info("alert %s: observed %s, threshold %s", alert.id, alert.observed, alert.threshold)
                await _send(self.topics.alerts, alert.id, alert.model_dump_json())

    async def subscriptions(self, stream: faust.StreamT) -> None:
        """Fold the compacted subscriptions topic into the table: the latest value wins, a tombstone removes."""
        async for sub_id, value in stream.items():
            if value is None:
                self.subscriptions_by_id.pop(sub_id, None)
            else:
                self.subscriptions_by_id[sub_id] = value

    async def notify(self, stream: faust.StreamT) -> None:
        """One notification per subscription that an alert matches."""
        async for value in stream:
            alert = Alert.model_validate_json(value)
            subscriptions = [Subscription.model_validate_json(v) for v in self.subscriptions_by_id.values()]
            for notice in notifications(alert, subscriptions):
                await _send(self.topics.notifications, notice.id, notice.model_dump_json())


def _text(key: bytes | None) -> str | None:
    return key.decode("utf-8", "replace") if key else None
