"""Consumer lag and stalls, from Kafka alone: committed offsets against end offsets.

This needs no help from the services, so it also sees a service that is hung, paused or
gone. A partition's lag is its end offset minus the group's committed offset (or minus its
beginning, while the group has committed nothing there). A partition is **stalled** when it
has had lag, and the same committed offset, for ``worker_stall_s`` seconds: whoever looks
(``canyu status``, ``canyu health``, ``canyu up``) records in ``run/<group>.progress.json``
since when each committed offset has stood still with lag behind it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from canyu import topics
from canyu.settings import Settings
from canyu_runtime.files import write_json_atomically
from canyu_runtime.kafka_clients import make_admin


def group_of(settings: Settings, service: str) -> str:
    return {"worker": settings.worker_app_id, "sink": settings.sink_group, "deliver": settings.delivery_group}[service]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group has committed nothing on this partition
    end: int
    lag: int

    @property
    def key(self) -> str:
        return f"{self.topic}:{self.partition}"


def compute_lag(
    committed: dict[TopicPartition, int | None], beginning: dict[TopicPartition, int], end: dict[TopicPartition, int]
) -> list[PartitionLag]:
    """Each partition's lag; one without a committed offset lags by everything still on it."""
    lags = []
    for tp in sorted(end, key=lambda tp: (tp.topic, tp.partition)):
        done = committed.get(tp)
        start = done if done is not None and done >= 0 else beginning.get(tp, 0)
        lags.append(PartitionLag(tp.topic, tp.partition, done, end[tp], max(0, end[tp] - start)))
    return lags


def group_lag(settings: Settings, service: str, admin: KafkaAdminClient | None = None) -> list[PartitionLag]:
    """The lag of ``service``'s consumer group on every partition of the topics it reads."""
    own = admin is None
    admin = admin or make_admin(settings, client_id="canyu-status")
    try:
        group = group_of(settings, service)
        committed = {
            tp: (meta.offset if meta is not None else None)
            for tp, meta in admin.list_group_offsets({group: None}).get(group, {}).items()
        }
        # Topics on which the group has committed are added, so a topic a service starts reading is never missed.
        names = {settings.topic(t) for t in topics.READS[service]} | {tp.topic for tp in committed}
        existing = set(admin.list_topics())
        partitions = [
            TopicPartition(name, p) for name, meta in _partitions(admin, sorted(names & existing)).items() for p in meta
        ]
        if not partitions:
            return []
        beginning = _offsets(admin, partitions, OffsetSpec.EARLIEST)
        end = _offsets(admin, partitions, OffsetSpec.LATEST)
        return compute_lag(committed, beginning, end)
    finally:
        if own:
            admin.close()


def _partitions(admin: KafkaAdminClient, names: list[str]) -> dict[str, list[int]]:
    if not names:
        return {}
    return {t["name"]: sorted(p["partition_index"] for p in t["partitions"]) for t in admin.describe_topics(names)}


def _offsets(admin: KafkaAdminClient, partitions: list[TopicPartition], spec) -> dict[TopicPartition, int]:
    answer = admin.list_partition_offsets({tp: spec for tp in partitions})
    return {tp: result.offset for tp, result in answer.items()}


def progress_path(settings: Settings, service: str) -> Path:
    return settings.home / "run" / f"{group_of(settings, service)}.progress.json"


def observe(seen: dict[str, list], lags: Iterable[PartitionLag], now: float) -> dict[str, list]:
    """Since when each lagging partition's committed offset has stood still: ``{key: [committed, since]}``.

    A partition without lag is left out; a committed offset that moved starts a new ``since``."""
    updated = {}
    for p in lags:
        if p.lag == 0:
            continue
        before = seen.get(p.key)
        same = before is not None and before[0] == p.committed
        updated[p.key] = [p.committed, before[1] if same else now]
    return updated


def stalled(
    seen: dict[str, list], lags: Iterable[PartitionLag], now: float, stall_s: float, not_before: float = 0
) -> list[tuple[PartitionLag, float]]:
    """Each lagging partition that made no progress for ``stall_s`` seconds, with how long it has been.

    ``not_before``: when the consumer started; it is not blamed for the time before."""
    found = []
    for p in lags:
        if p.lag > 0 and p.key in seen:
            still = now - max(seen[p.key][1], not_before)
            if still >= stall_s:
                found.append((p, still))
    return found


@dataclass
class Verdict:
    service: str
    lags: list[PartitionLag]
    stalled: list[tuple[PartitionLag, float]]
    first_look: bool  # nobody looked before: a stall cannot be told yet

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.lags)


def check(
    settings: Settings,
    service: str,
    only: set[tuple[str, int]] | None = None,
    now: float | None = None,
    not_before: float = 0,
) -> Verdict:
    """Look at the group's lag, record it in the progress file, and say which partitions are stalled.

    ``only`` limits the verdict to some partitions (a worker's own); the record keeps them all."""
    now = time.time() if now is None else now
    lags = group_lag(settings, service)
    path = progress_path(settings, service)
    try:
        seen = json.loads(path.read_text(encoding="utf-8"))
        first_look = False
    except (OSError, ValueError):
        seen, first_look = {}, True
    updated = observe(seen, lags, now)
    write_json_atomically(path, updated)
    mine = [p for p in lags if only is None or (p.topic, p.partition) in only]
    return Verdict(service, mine, stalled(updated, mine, now, settings.worker.stall_s, not_before), first_look)


class LagCollector(Collector):
    """``canyu_consumer_lag{topic,partition}``, read from Kafka at each scrape."""

    def __init__(self, settings: Settings, service: str, group: str):
        self.settings = settings
        self.service = service
        self.group = group

    def collect(self):
        family = GaugeMetricFamily(
            "canyu_consumer_lag", "records after the group's committed offset", labels=["group", "topic", "partition"]
        )
        try:
            lags = group_lag(self.settings, self.service)
        except Exception:  # noqa: BLE001 - Kafka unreachable: a scrape without the lag, not a failed scrape
            lags = []
        for p in lags:
            family.add_metric([self.group, p.topic, str(p.partition)], p.lag)
        yield family
