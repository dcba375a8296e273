"""The worker's agents, one method each; ``streams.app`` declares the topics and tables and wires them.

Each agent reads one stream and sends what it makes to the topics it is given, so an agent can
be driven through Faust's ``test_context()`` without a broker.

Errors are handled per record, because Faust acknowledges a record whatever its agent did
with it (``take_events`` acks a whole batch in its ``finally``): a record that an agent
cannot process becomes a dead letter with its stage, source and reason, and the stream
goes on. Nothing is dropped without one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import ClassVar

import faust
import numpy as np
from faust.types import EventT
from pydantic import BaseModel, ValidationError

from canyu import topics
from canyu.schema import Alert, DeadLetter, EnrichedPost, Subscription
from canyu.settings import Settings
from canyu_runtime import dead_letters
from canyu_runtime.reasons import reason_of
from canyu_runtime.subscriptions import SubscriptionFollower
from streams.classifying import Classifying
from streams.enrich import RawRecord
from streams.notify import notifications
from streams.recent import unpack_vector
from streams.signals import Outputs, Signals

log = logging.getLogger(__name__)
EXPIRY_INTERVAL_S = 60.0
SUBSCRIPTIONS_WAIT_S = 60.0  # before the first alert: a new worker must not match it against none


@dataclass(frozen=True)
class Topics:
    """Every topic the worker reads or writes; keys and values stay raw bytes."""

    NAMES: ClassVar[dict[str, str]] = {
        "raw": topics.POSTS_RAW,
        "classified": topics.POSTS_CLASSIFIED,
        "enriched": topics.POSTS_ENRICHED,
        "dead_letters": topics.DEAD_LETTERS,
        "alerts": topics.ALERTS,
        "items": topics.FEEDBACK_ITEMS,
        "cascades": topics.CASCADES,
        "counts": topics.COUNTS,
        "subscriptions": topics.SUBSCRIPTIONS,
        "notifications": topics.NOTIFICATIONS,
        "releases": topics.RELEASES,
        "lifecycles": topics.ITEM_LIFECYCLE,
        "impacts": topics.RELEASE_IMPACTS,
    }

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
    releases: faust.TopicT
    lifecycles: faust.TopicT
    impacts: faust.TopicT

    @classmethod
    def declare(cls, app: faust.App, settings: Settings) -> Topics:
        def topic(name: str) -> faust.TopicT:
            one = {"partitions": 1} if name in topics.SINGLE_PARTITION else {}
            return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw", **one)

        return cls(**{field: topic(name) for field, name in cls.NAMES.items()})

    def named(self, name: str) -> faust.TopicT:
        """The topic declared for ``name`` (``canyu.topics.POSTS_RAW``)."""
        (field,) = [field for field, known in self.NAMES.items() if known == name]
        return getattr(self, field)


# The near-duplicate fingerprint that ``enrich`` worked out travels with the classified post,
# as a header (the post's schema is what users index and query, and this is the worker's own).
FINGERPRINT_HEADER = "canyu-simhash"
# So does the classifier's sentence vector of a feedback post, which groups items across languages,
# and the partition of posts.raw the post came in on: with its source, the input the clock follows.
VECTOR_HEADER = "canyu-vector"
PARTITION_HEADER = "canyu-partition"
# A record on posts.classified with this header is no post: it asks the stateful step to apply what
# changed in the releases and item lifecycles people wrote (streams.watch), in order with the posts.
SYNC_HEADER = "canyu-sync"
SYNC_KEY = "sync"
IMPACTS_INTERVAL_S = 2.0  # release impacts are computed again at most this often


async def _send(topic: faust.TopicT, key: str | bytes, value: str | bytes, headers: dict[str, bytes] | None = None):
    """Hand a record to the app's producer; the returned future resolves when Kafka acknowledged it.

    Straight to the producer, which the app starts before its agents: Faust's ``Topic.send`` wraps
    each record in a FutureMessage and runs channel, sensor and callback code for it, which cost the
    worker more than the producer's own work per record (docs/performance.md). Faust flushes this
    producer before it commits an offset all the same, so at least once still holds."""
    key, value = (part.encode() if isinstance(part, str) else part for part in (key, value))
    return await topic.app.producer.send(topic.get_topic_name(), key, value, None, None, headers)


@dataclass
class Agents:
    """``enrich``, ``signals``, ``subscriptions`` and ``notify``, and what they share.

    ``followed`` follows the compacted subscriptions topic whole on every worker (any
    worker may own a partition of ``alerts``): subscription id → its latest JSON.
    """

    topics: Topics
    classifying: Classifying
    state: Signals
    followed: SubscriptionFollower
    batch_size: int
    batch_wait_s: float
    impacts_at: float = 0.0  # when release impacts were last sent (monotonic)

    async def enrich(self, stream: faust.StreamT) -> None:
        """Classify raw posts in batches and find their product mentions; bad records become dead letters.

        Batches overlap: while the classifier works on one, the results of the one before are
        sent, so it does not wait for the event loop between batches. A batch's records are
        acknowledged once its results are handed to the producer, batch after batch in order,
        so a worker that stops meanwhile has them delivered again (at least once).
        """
        classified: asyncio.Queue = asyncio.Queue(maxsize=1)
        forwarding = asyncio.ensure_future(self._forward(stream, classified))
        try:
            async for events in stream.noack_take(self.batch_size, within=self.batch_wait_s):
                batch = asyncio.ensure_future(self.classifying.enrich([_record(e) for e in events]))
                queued = asyncio.ensure_future(classified.put((events, batch)))
                await asyncio.wait([queued, forwarding], return_when=asyncio.FIRST_COMPLETED)
                if forwarding.done():  # it stopped on an error: so does this agent
                    queued.cancel()
                    batch.cancel()
                    forwarding.result()
        finally:
            forwarding.cancel()

    async def _forward(self, stream: faust.StreamT, classified: asyncio.Queue) -> None:
        while True:
            events, batch = await classified.get()
            for event, (result, fp, vector) in zip(events, await batch, strict=True):
                if isinstance(result, DeadLetter):
                    await self._dead_letter(result)
                    continue
                post_id, value = result
                headers = {
                    FINGERPRINT_HEADER: b"" if fp is None else str(fp).encode(),
                    PARTITION_HEADER: str(event.message.partition).encode(),
                }
                if vector is not None:
                    headers[VECTOR_HEADER] = vector
                await _send(self.topics.classified, post_id, value, headers)
            for event in events:
                await stream.ack(event)

    async def signals(self, stream: faust.StreamT) -> None:
        """The stateful step: every classified post through :class:`Signals`, then its outputs sent.

        ``process`` makes every table write for a post before any await. Sends are not awaited
        one by one: Faust flushes the producer before it commits an offset, so a post whose
        sends never finished is delivered again, and sent again from the tables. Alerts are
        the exception: a post's alerts are awaited, and only then marked sent, so that a
        redelivery notifies nobody twice.
        """
        expired_at = time.monotonic()
        async for event in stream.events():
            record = _record(event)
            if SYNC_HEADER in _headers(event):
                await self._sync(record)
                continue
            try:
                post = EnrichedPost.model_validate_json(record.value or b"")
            except ValidationError as e:
                await self._dead_letter(record.dead_letter("signals", f"not a valid EnrichedPost: {reason_of(e)}"))
                continue
            try:
                out = self.state.process(post, record.offset, self._fingerprint(event, post), _vector(event),
                                         _partition(event))  # fmt: skip
            except Exception as e:
                self.state.forget_recent()  # what it had in memory may be half changed: read the tables again
                await self._dead_letter(record.dead_letter("signals", f"not processed: {reason_of(e)}", post.source))
                continue
            if time.monotonic() - expired_at > EXPIRY_INTERVAL_S:
                # Faust lets tables change only while an event is being processed, so expiry runs here.
                expired_at = time.monotonic()
                closed = Outputs(None)
                try:
                    log.info("expired %d entries older than the retention", self.state.expire(out=closed))
                except Exception:  # no record's fault, and no reason to stop the stream: next time
                    log.exception("expiry failed")
                await self._send_all(closed)
            if self.impacts_due():
                await self._send_impacts(Outputs(None))
            if out.redelivery:
                continue
            await _send(self.topics.enriched, post.id, out.post.model_dump_json())
            if await self._send_all(out):
                self.state.sent(post.id)

    async def _send_all(self, out: Outputs) -> bool:
        """Send what the stateful step made; alerts are awaited (True when there were any)."""
        alerts = []
        for kind, key, value in out.messages():
            sending = await _send(getattr(self.topics, kind), key, value)
            if kind == "alerts":
                log.info("alert %s", key)
                alerts.append(sending)
        if alerts:
            await asyncio.gather(*alerts)
        return bool(alerts)

    async def _sync(self, record: RawRecord) -> None:
        """A sync record: apply what people changed, and send the impacts and items it touched."""
        out = Outputs(None)
        try:
            self.state.watch.sync(record.offset, out)
        except Exception as e:
            self.state.forget_recent()
            await self._dead_letter(record.dead_letter("signals", f"sync not applied: {reason_of(e)}"))
            return
        await self._send_impacts(out)

    def impacts_due(self, interval_s: float = IMPACTS_INTERVAL_S) -> bool:
        return bool(self.state.watch.dirty) and time.monotonic() - self.impacts_at > interval_s

    async def _send_impacts(self, out: Outputs) -> None:
        """Send ``out`` with the impacts of the releases posts touched; they are derived, not stored."""
        self.impacts_at = time.monotonic()
        try:
            out.impacts = self.state.watch.impacts()
        except Exception:  # no record's fault: the next post or sync computes them again
            log.exception("computing release impacts failed")
        await self._send_all(out)

    async def request_sync(self) -> None:
        """Ask the stateful step to apply what changed in the registries (see SYNC_HEADER)."""
        await _send(self.topics.classified, SYNC_KEY, "", {SYNC_HEADER: b"1"})

    def checker(self, model: type[BaseModel], stage: str):
        """An agent that dead-letters a record of a compacted registry topic (subscriptions, releases,
        item lifecycles) that is not a ``model``.

        Each record is read once, by the worker that owns its partition; every worker follows the
        whole topic for itself, and skips such a record there.
        """

        async def check(stream: faust.StreamT) -> None:
            async for event in stream.events():
                if event.value is None:
                    continue
                try:
                    model.model_validate_json(event.value)
                except Exception as e:
                    await self._dead_letter(_record(event).dead_letter(stage, reason_of(e)))

        return check

    async def notify(self, stream: faust.StreamT) -> None:
        """One notification per subscription that an alert matches.

        An alert that cannot be read is a dead letter. So is one that could not be matched against
        every subscription (one the table holds is no longer valid): it reached the others, and the
        dead letter says which it missed.
        """
        self.followed.start()
        if not await asyncio.to_thread(self.followed.caught_up.wait, SUBSCRIPTIONS_WAIT_S):
            log.warning(
                "subscriptions not all read after %g s; matching alerts against those read", SUBSCRIPTIONS_WAIT_S
            )
        async for event in stream.events():
            record = _record(event)
            try:
                alert = Alert.model_validate_json(record.value or b"")
            except Exception as e:
                await self._dead_letter(record.dead_letter("notify", reason_of(e)))
                continue
            missed = []
            for sub_id, value in self.followed.latest.items():
                try:
                    notices = notifications(alert, [Subscription.model_validate_json(value)])
                except Exception as e:
                    missed.append(f"subscription {_text(sub_id)}: {reason_of(e)}")
                    continue
                for notice in notices:
                    await _send(self.topics.notifications, notice.id, notice.model_dump_json())
            if missed:
                await self._dead_letter(record.dead_letter("notify", "not matched against " + "; ".join(missed)))

    def _fingerprint(self, event: EventT, post: EnrichedPost) -> int | None:
        """The fingerprint ``enrich`` sent with the post; worked out here for a record without one
        (a dead letter sent back, or one written before the header existed)."""
        sent = _headers(event).get(FINGERPRINT_HEADER)
        if sent is None:
            return self.state.fingerprint_of(post)
        return int(sent) if sent else None

    async def _dead_letter(self, letter: DeadLetter) -> None:
        log.warning("dead letter from %s at %s:%s: %s", letter.stage, letter.topic, letter.offset, letter.reason)
        key, value = dead_letters.message(letter)
        await _send(self.topics.dead_letters, key, value)


def _headers(event: EventT) -> dict:
    return dict(event.message.headers or ())


def _vector(event: EventT) -> np.ndarray | None:
    """The sentence vector ``enrich`` sent with a feedback post, if any."""
    packed = _headers(event).get(VECTOR_HEADER)
    return unpack_vector(packed) if packed else None


def _partition(event: EventT) -> int | None:
    """The partition of posts.raw the post came in on; None for a record sent another way (a dead letter replayed)."""
    sent = _headers(event).get(PARTITION_HEADER)
    return int(sent) if sent else None


def _record(event: EventT) -> RawRecord:
    message = event.message
    return RawRecord(event.value, message.topic, message.partition, message.offset, _text(event.key))


def _text(key: bytes | None) -> str | None:
    return key.decode("utf-8", "replace") if key else None
