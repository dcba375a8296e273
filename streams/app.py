"""The Faust worker (topology and reasons in docs/streams.md): declares topics and tables, wires the agents.

posts.raw ──enrich (classifier, in batches; parallel over partitions)──► posts.classified (1 partition)
posts.classified ──signals (near-duplicates, counts, spikes, items, cascades)──► posts.enriched,
                                                    alerts, feedback.items, cascades, counts
subscriptions (compacted) ──subscriptions──► dead letters for records that are no subscription
subscriptions (compacted) ──followed whole by every worker──► notify
releases, items.lifecycle (compacted) ──followed whole by every worker──► a sync record on posts.classified
                                       ──releases, lifecycles──► dead letters for records that are none
signals ──► releases (seen in posts), release.impacts
alerts ──notify (matches them)──► notifications
"""

from __future__ import annotations

import gc
import os

import faust
from faust.web import Request, Response, View

from canyu import topics
from canyu.schema import ItemLifecycle, Release, Subscription
from canyu.settings import Settings
from canyu_runtime.metrics import METRICS
from canyu_runtime.registry import Follower
from canyu_runtime.subscriptions import SubscriptionFollower
from models import limit_threads
from streams.agents import IMPACTS_INTERVAL_S, Agents, Topics
from streams.classifying import Classifying
from streams.offsets import RECOMMIT_INTERVAL_S, Mender, ledger, recommit
from streams.recent import Clock
from streams.releases import ReleaseRules
from streams.sensor import ClockCollector, MetricsSensor
from streams.signals import SignalConfig, Signals, Tables
from streams.spikes import SpikeRule
from streams.transport import App
from streams.watch import FollowedRegistries

# RocksDB's memory per table, bounded: Faust's defaults allow three 64 MB write buffers and a
# 2 GB block cache for each of the six tables, and the worker grew with every post it kept.
# Reads mostly hit recent.Cached in front of the tables, and the OS caches the files.
# Most reads that reach RocksDB ask for a key it lacks (a new post id, a new hour), which its
# bloom filters answer: at Faust's 3 bits per key about one file in seven is read all the same,
# dearer as the files grow (docs/performance.md); 10 bits make it about one in a hundred.
ROCKSDB_OPTIONS = {
    "write_buffer_size": 8 << 20,
    "max_write_buffer_number": 2,
    "block_cache_size": 16 << 20,
    "bloom_filter_size": 10,
}

# What the consumer fetches per partition at a time (Faust's default: 1 MB, some 2 000 posts).
FETCH_BYTES = 256 << 10
SMALLEST_POST_BYTES = 256  # a valid post's JSON is larger: it has ids, dates and an author


def stream_buffer(partitions: int) -> int:
    """Events a stream may hold. Faust stops fetching its partitions at 4/5 of this, but still
    delivers what it had fetched, and it delivers every topic's records through one loop: a
    record for a full buffer holds back the records of every other stream. With Faust's default
    (4 096) a backlog on posts.raw stopped the stateful step for 20 s at a time while the
    classifier worked through it (docs/streams.md). So the top fifth holds one fetch of every
    partition. Capped all the same: posts.raw's 4 partitions give 20 480 posts, about 10 MB."""
    return 5 * partitions * FETCH_BYTES // SMALLEST_POST_BYTES


class OnePartitionTable(faust.Table):
    """A table that, like ``posts.classified`` which feeds it, has one partition.

    Faust's own ``partition_for_key`` first checks that the source topic and the changelog have
    as many partitions, from the consumer's metadata snapshot, which counts a topic it has not
    seen yet as 0 partitions. Just after a first start the snapshot may miss a changelog Faust
    has just created, for minutes (metadata is refreshed every five), and every write to that
    table then raised: a clean-clone CI run dead-lettered a whole chunk of the chaos test's
    posts on the cooldowns table. Here there is nothing to check: it is partition 0."""

    def partition_for_key(self, key: object) -> int:
        return 0


SYNC_CHECK_S = 1.0  # how often the worker looks for changes in the registries people write


def signal_config(settings: Settings) -> SignalConfig:
    signals, rules = settings.signals, settings.releases
    rule = SpikeRule(k=signals.spike_k, min_count=signals.spike_min_count, cooldown_s=signals.spike_cooldown_s)
    releases = ReleaseRules(
        window_days=rules.window_days,
        jump=rules.regression_jump,
        min_posts=rules.regression_min_posts,
        seen_authors=rules.seen_authors,
        grace_days=rules.fix_grace_days,
        quiet_days=rules.fix_quiet_days,
        failed_reports=rules.fix_failed_reports,
        failed_rate=rules.fix_failed_rate,
    )
    return SignalConfig(
        spike=rule,
        viral_velocity=signals.viral_velocity,
        item_threshold=signals.item_similarity,
        item_vector_threshold=signals.item_vector_similarity,
        inputs=settings.kafka.topic_partitions,
        idle_input_s=settings.worker.idle_input_s,
        releases=releases,
    )


def create_app(settings: Settings) -> faust.App:
    datadir = settings.home / "faust" / f"{settings.worker_app_id}-{settings.worker.web_port}"
    datadir.mkdir(parents=True, exist_ok=True)
    app = App(
        settings.worker_app_id,
        broker=f"kafka://{settings.kafka.bootstrap}",
        # RocksDB: a restarted worker reads its own state from disk and only the changelogs' tail.
        store=settings.worker.store,
        datadir=str(datadir),
        # A killed worker's partitions move after this long, not after Faust's default minute.
        # (Static membership would hand them back to a restarted worker without a rebalance, but
        # Faust's assignor then never completes the assignment: the worker waits for good.)
        broker_session_timeout=settings.worker.session_timeout_s,
        broker_heartbeat_interval=settings.worker.session_timeout_s / 5,
        web_host="127.0.0.1",
        web_port=settings.worker.web_port,
        topic_partitions=settings.kafka.topic_partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        Table=OnePartitionTable,
        stream_buffer_maxsize=stream_buffer(settings.kafka.topic_partitions),
        consumer_max_fetch_size=FETCH_BYTES,
    )
    out = Topics.declare(app, settings)
    # The stateful step reads every post (one partition), so its tables hold one partition too.
    tables = Tables(
        **{
            # A copy each: Faust's store pops what it reads from the options it is given.
            name: app.Table(_signals_table(name), default=None, partitions=1, options=dict(ROCKSDB_OPTIONS))
            for name in Tables.__dataclass_fields__
        }
    )
    followed_releases = Follower(settings, topics.RELEASES)
    followed_lifecycles = Follower(settings, topics.ITEM_LIFECYCLE)
    registries = FollowedRegistries(followed_releases, followed_lifecycles)
    state = Signals(tables, signal_config(settings), registries)
    # After a rebalance the tables may hold what another worker wrote: derive the in-memory part again.
    app.on_partitions_assigned.connect(lambda *args, **kwargs: state.forget_recent())
    agents = Agents(
        topics=out,
        classifying=Classifying(settings, state.config.near_dup_min_features, settings.classifier.process),
        state=state,
        followed=SubscriptionFollower(settings),
        batch_size=settings.worker.batch_size,
        batch_wait_s=settings.worker.batch_wait_s,
    )
    handlers = {
        "enrich": agents.enrich,
        "signals": agents.signals,
        "subscriptions": agents.checker(Subscription, "subscriptions"),
        "releases": agents.checker(Release, "releases"),
        "lifecycles": agents.checker(ItemLifecycle, "lifecycles"),
        "notify": agents.notify,
    }
    for name, topic in topics.WORKER_READS.items():  # which agent reads which topic: canyu.topics
        app.agent(out.named(topic), name=name)(handlers[name])
    app.page("/assignment/")(assignment)
    app.sensors.add(MetricsSensor())  # processed records and latency into canyu_runtime.metrics
    METRICS.registry.register(ClockCollector(state))
    app.page("/signals/")(signal_clock(state))
    app.page("/offsets/")(offsets)

    mender = Mender()
    # The followers' version stays 0 while their topics are empty: with nothing to apply, no sync record.
    synced = {"version": 0}

    @app.task
    async def follow_registries() -> None:
        followed_releases.start()
        followed_lifecycles.start()

    @app.timer(SYNC_CHECK_S)
    async def apply_what_people_changed(*_) -> None:
        """A change in releases or item lifecycles (or impacts that no post came to send, or partitions
        gone quiet) becomes a sync record, which the stateful step applies in order with the posts."""
        # Posts send the impacts they touch; this is for the ones no later post came to send, and for
        # a clock whose quiet partitions no longer hold the watermark back (it moves between posts).
        quiet = state.clock is not None and state.clock.stale
        if registries.version != synced["version"] or agents.impacts_due(2 * IMPACTS_INTERVAL_S) or quiet:
            synced["version"] = registries.version
            await agents.request_sync()

    @app.timer(RECOMMIT_INTERVAL_S)
    async def keep_commits_moving(*_) -> None:
        await mender.mend(app.consumer)
        await recommit(app.consumer)

    return app


async def assignment(web: View, request: Request) -> Response:
    """The partitions this worker owns now: operators and the failover test read it."""
    return web.json(sorted([tp.topic, tp.partition] for tp in web.app.assignor.assigned_actives()))


async def offsets(web: View, request: Request) -> Response:
    """Where Faust's commits stand, per partition owned (``streams.offsets.ledger``)."""
    return web.json(ledger(web.app.consumer))


def signal_clock(state: Signals):
    async def page(web: View, request: Request) -> Response:
        """Event-time progress: the watermark, each input's high mark, and the posts that came late
        (counted all the same) or too old to count."""
        clock = state.clock or Clock()
        return web.json({"watermark": clock.watermark, "first": clock.first, "late": clock.late,
                         "too_old": clock.too_old, "inputs": clock.marks})  # fmt: skip

    return page


def _signals_table(name: str) -> str:
    # Changelog <app id>-state-<name>-changelog: renaming one loses its state. (The "signals-"
    # tables before them held another layout; a worker that finds those starts afresh.)
    return f"state-{name}"


def tune_gc() -> None:
    """Collect the youngest objects less often. The worker keeps a large, long-lived heap (the
    tables' decoded values, the near-duplicate index) that its caches keep renewing, and with
    the default thresholds the collector's passes over it slowed the stateful step by a third
    after 100 000 posts (``python -m bench.signals``)."""
    gc.set_threshold(50_000, 50, 100)


def run_worker(settings: Settings) -> None:
    from faust.worker import Worker

    tune_gc()
    app = create_app(settings)  # its classifier process is started by now
    if settings.classifier.process:
        # The stateful step's own numeric work (one small matrix product per feedback post, which
        # compares it with every open item) runs on the event loop's one thread, and so do the
        # numeric libraries: on two, the hand-offs cost more than the product (bench.signals
        # --vectors ran at a third of the speed). A classifier in a thread sets the process's limit.
        limit_threads(1)
        # The classifier is the pipeline's slowest step: where it and the worker's event loop
        # want the same core, it goes first (docs/performance.md, "The classifier goes first").
        # Linux sets a thread's nice: this one's, and that of the threads it starts from now on.
        os.nice(settings.worker.nice)
    Worker(app, loglevel="INFO").execute_from_commandline()
