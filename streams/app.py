"""The Faust worker (topology and reasons in docs/streams.md): declares topics and tables, wires the agents.

posts.raw ──enrich (classifier, in batches; parallel over partitions)──► posts.classified (1 partition)
posts.classified ──signals (near-duplicates, counts, spikes, items, cascades)──► posts.enriched,
                                                    alerts, feedback.items, cascades, counts
subscriptions (compacted) ──subscriptions──► a global table, whole on every worker
alerts ──notify (matches that table)──► notifications
"""

from __future__ import annotations

import faust
from faust.web import Request, Response, View

from canyu.settings import Settings
from models import load_classifier
from streams.agents import Agents, Topics
from streams.products import Catalogue
from streams.sensor import MetricsSensor
from streams.signals import SignalConfig, Signals, Tables
from streams.spikes import SpikeRule


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
        topic_replication_factor=settings.topic_replication_factor,
    )
    out = Topics.declare(app, settings)
    # The stateful step reads every post (one partition), so its tables hold one partition too.
    tables = Tables(
        **{name: app.Table(_signals_table(name), default=None, partitions=1) for name in Tables.__dataclass_fields__}
    )
    # Every worker holds every subscription. One changelog partition, written through the
    # partitioner, is what Faust's GlobalTable needs to recover without looping.
    subscriptions = app.GlobalTable(
        "subscriptions", key_type=bytes, value_type=bytes, partitions=1, use_partitioner=True, recovery_buffer_size=1
    )
    agents = Agents(
        topics=out,
        classifier=load_classifier(settings.classifier),
        catalogue=Catalogue.load(settings.products_file),
        state=Signals(tables, signal_config(settings)),
        subscriptions_by_id=subscriptions,
        batch_size=settings.batch_size,
        batch_wait_s=settings.batch_wait_s,
        settings=settings,
    )
    app.agent(out.raw, name="enrich")(agents.enrich)
    app.agent(out.classified, name="signals")(agents.signals)
    app.agent(out.subscriptions, name="subscriptions")(agents.subscriptions)
    app.agent(out.alerts, name="notify")(agents.notify)
    app.page("/assignment/")(assignment)
    app.sensors.add(MetricsSensor())  # processed records and latency into canyu_runtime.metrics
    app.page("/signals/")(signal_clock)
    return app


async def assignment(web: View, request: Request) -> Response:
    """The partitions this worker owns now: operators and the failover test read it."""
    return web.json(sorted([tp.topic, tp.partition] for tp in web.app.assignor.assigned_actives()))


async def signal_clock(web: View, request: Request) -> Response:
    """Event-time progress: the watermark, and how many posts arrived too late to be counted."""
    clock = web.app.tables[_signals_table("clock")]
    return web.json({k: clock.get(k) for k in ("watermark", "first", "late")})


def _signals_table(name: str) -> str:
    return f"signals-{name}"  # changelog <app id>-signals-<name>-changelog: renaming one loses its state


def run_worker(settings: Settings) -> None:
    from faust.worker import Worker

    Worker(create_app(settings), loglevel="INFO").execute_from_commandline()
