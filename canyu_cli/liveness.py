"""Is a service alive and making progress? For ``canyu health``, ``canyu status`` and ``canyu up``.

A worker is alive when its web endpoint answers and none of its partitions is stalled: lag
behind it and no commit for ``worker_stall_s`` (:mod:`canyu_runtime.lag`). Its partitions come
from its ``/assignment/`` page, or, when that does not answer, from its status file.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from kafka.errors import KafkaError

from canyu import topics
from canyu.settings import Settings
from canyu_runtime.lag import Verdict, check, group_of
from canyu_runtime.metrics import STATUS_EVERY_S, status_path

SERVICES = tuple(topics.READS)  # the services with a consumer group


@dataclass
class Liveness:
    web_error: str | None = None
    verdict: Verdict | None = None
    kafka_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def stalled(self) -> bool:
        return bool(self.verdict and self.verdict.stalled)

    def problems(self) -> list[str]:
        found = [self.web_error] if self.web_error else []
        for p, still in self.verdict.stalled if self.verdict else []:
            found.append(
                f"{p.topic}[{p.partition}] lags by {p.lag} and its committed offset ({p.committed}) "
                f"has not moved for {still:.0f}s: no progress"
            )
        return found


def read_status(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def statuses(settings: Settings, service: str) -> list[dict]:
    """The status files of a service's live processes (written in the last few intervals)."""
    group = group_of(settings, service)
    found = [read_status(p) for p in sorted((settings.home / "run").glob(f"{group}*.status.json"))]
    return [s for s in found if s and time.time() - s.get("updated", 0) < 3 * STATUS_EVERY_S + 5]


def worker_liveness(settings: Settings, now: float | None = None) -> Liveness:
    result = Liveness()
    port = settings.worker.web_port
    saved = read_status(status_path(settings, settings.worker_app_id, str(port))) or {}
    assigned = None
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/assignment/", timeout=5).raise_for_status()
        assigned = {(topic, partition) for topic, partition in answer.json()}
    except (httpx.HTTPError, ValueError) as e:
        result.web_error = f"worker web endpoint on port {port} does not answer: {e}"
        if saved.get("assigned") is not None:
            assigned = {(topic, partition) for topic, partition in saved["assigned"]}
    try:
        result.verdict = check(settings, "worker", only=assigned, now=now, not_before=saved.get("started", 0))
    except KafkaError as e:  # Kafka's outage is not the worker's fault: restarting it would not help
        result.kafka_error = f"cannot read the consumer group's offsets from Kafka: {e}"
    return result
