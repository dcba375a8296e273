"""The Faust worker (topology and reasons in docs/streams.md).

posts.raw ──enrich (classifier, in batches; parallel over partitions)──► posts.classified (1 partition)
posts.classified ──signals (near-duplicates, counts, spikes, items, cascades)──► posts.enriched,
                                                    alerts, feedback.items, cascades, counts
alerts ──notify (matches subscriptions)──► notifications
"""

from __future__ import annotations

import asyncio
import time

import faust

from canyu import topics
from canyu.schema import Alert, DeadLetter, EnrichedPost, Subscription
from canyu.settings import Settings
from canyu_runtime.subscriptions import SubscriptionStore
from models import load_classifier
from streams.enrich import RawRecord, enrich_batch
from streams.notify import notifications
from streams.products import Catalogue
from streams.signals import SignalConfig, Signals, Tables
from streams.spikes import SpikeRule

EXPIRY_INTERVAL_S = 60.0
SUBSCRIPTIONS_TTL_S = 5.0


def signal_config(settings: Settings) -> SignalConfig:
    rule = SpikeRule(k=settings.spike_k, min_count=settings.spike_min_count, cooldown_s=settings.spike_cooldown_s)
    return SignalConfig(spike=rule, viral_velocity=settings.viral_velocity, item_threshold=settings.item_similarity)


def create_app(settings: Settings) -> faust.App:
    datadir = settings.home / "faust" / f"{settings.worker_app_id}-{settings.worker_web_port}"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.worker_app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",  # tables are rebuilt from their Kafka changelogs on start-up
        datadir=str(datadir),
        web_host="127.0.0.1",
        web_port=settings.worker_web_port,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
    )

    def topic(name: str, **kwargs) -> faust.TopicT:
        return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw", **kwargs)

    raw, classified = topic(topics.POSTS_RAW), topic(topics.POSTS_CLASSIFIED, partitions=1)
    enriched, dlq, alerts = topic(topics.POSTS_ENRICHED), topic(topics.DEAD_LETTERS), topic(topics.ALERTS)
    items, cascades, counts = topic(topics.FEEDBACK_ITEMS), topic(topics.CASCADES), topic(topics.COUNTS)
    notices = topic(topics.NOTIFICATIONS)

    classifier = load_classifier(settings.classifier)
    catalogue = Catalogue.load(settings.products_file)

    @app.agent(raw, name="enrich")
    async def enrich(stream):
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_s):
            records = [
                RawRecord(e.value, e.message.topic, e.message.partition, e.message.offset, _text(e.key)) for e in events
            ]
            for result in enrich_batch(records, classifier):
                if isinstance(result, DeadLetter):
                    app.log.warning("dead letter at offset %s: %s", result.offset, result.reason)
                    await dlq.send(key=(result.key or "").encode(), value=result.model_dump_json().encode())
                    continue
                result = result.model_copy(update={"products": catalogue.mentions(result.full_text)})
                await classified.send(key=result.id.encode(), value=result.model_dump_json().encode())

    # The stateful step reads every post (one partition), so its tables hold one partition too.
    tables = Tables(
        **{name: app.Table(f"signals-{name}", default=None, partitions=1) for name in Tables.__dataclass_fields__}
    )
    signals = Signals(tables, signal_config(settings))

    @app.agent(classified, name="signals")
    async def signal(stream):
        expired_at = time.monotonic()
        async for value in stream:
            post = EnrichedPost.model_validate_json(value)
            out = signals.process(post)  # every table write happens here, before any await
            if time.monotonic() - expired_at > EXPIRY_INTERVAL_S:
                # Faust lets tables change only while an event is being processed, so expiry runs here.
                expired_at = time.monotonic()
                app.log.info("expired %d entries older than the retention", signals.expire())
            if out.redelivery:
                continue
            await enriched.send(key=post.id.encode(), value=out.post.model_dump_json().encode())
            for key, count in out.counts.items():
                await counts.send(key=key.encode(), value=str(count).encode())
            for item in out.items:
                await items.send(key=item.id.encode(), value=item.model_dump_json().encode())
            for cascade in out.cascades:
                await cascades.send(key=cascade.root_id.encode(), value=cascade.model_dump_json().encode())
            for alert in out.alerts:
                app.log.info("alert %s: observed %s, threshold %s", alert.id, alert.observed, alert.threshold)
                await alerts.send(key=alert.id.encode(), value=alert.model_dump_json().encode())

    store = SubscriptionStore(settings)
    cache: dict[str, object] = {"at": 0.0, "subscriptions": []}

    async def current_subscriptions() -> list[Subscription]:
        # Every worker reads the same compacted topic; a few seconds of staleness is fine for alerts.
        if time.monotonic() - cache["at"] > SUBSCRIPTIONS_TTL_S:
            cache["subscriptions"] = list((await asyncio.to_thread(store.current)).values())
            cache["at"] = time.monotonic()
        return cache["subscriptions"]

    @app.agent(alerts, name="notify")
    async def notify(stream):
        async for value in stream:
            alert = Alert.model_validate_json(value)
            for notice in notifications(alert, await current_subscriptions()):
                await notices.send(key=notice.id.encode(), value=notice.model_dump_json().encode())

    @app.page("/assignment/")
    async def assignment(web, request):
        """The partitions this worker owns now: operators and the failover test read it."""
        return web.json(sorted([tp.topic, tp.partition] for tp in app.assignor.assigned_actives()))

    @app.page("/signals/")
    async def signal_clock(web, request):
        """Event-time progress: the watermark, and how many posts arrived too late to be counted."""
        return web.json({k: tables.clock.get(k) for k in ("watermark", "first", "late")})

    return app


def _text(key: bytes | None) -> str | None:
    return key.decode("utf-8", "replace") if key else None


def run_worker(settings: Settings) -> None:
    from faust.worker import Worker

    Worker(create_app(settings), loglevel="INFO").execute_from_commandline()
