"""What every long-running service counts, for Prometheus and for ``canyu status``.

One process runs one service (the worker, the sink or delivery), so each process has one
:data:`METRICS`. The runtime counts in the places every room goes through: the retry policy
counts retries, :func:`canyu_runtime.dead_letters.message` counts dead letters, and the
``capture_errors`` log handler keeps the last error. A room adds only what it alone knows:
records processed (after their offsets are committed) and how long a batch took.

``start`` serves the counts on ``--metrics-port`` (with each partition's consumer lag, read
from Kafka at every scrape: :mod:`canyu_runtime.lag`) and writes them every few seconds to
a status file under ``CANYU_HOME/run``, which ``canyu status`` reads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Iterable
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from canyu.settings import Settings
from canyu_runtime.files import write_json_atomically
from canyu_runtime.lag import LagCollector

STATUS_EVERY_S = 5.0
RATE_WINDOW_S = 60.0
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> None:
    """Serve a registry on ``http://host:port/metrics``: every ``--metrics-port`` goes through here."""
    start_http_server(port, addr=host, registry=registry)


def status_path(settings: Settings, group: str, instance: str = "") -> Path:
    """``run/<group>[.<instance>].status.json``: several workers on one machine tell theirs apart by web port."""
    return settings.home / "run" / f"{group}{'.' + instance if instance else ''}.status.json"


class ServiceMetrics:
    """Processed, dead-lettered and retried records, batch latency and the last error of one service."""

    def __init__(self) -> None:
        self.service = "canyu"
        self.started = time.time()
        self.group = ""
        self.assigned: list[tuple[str, int]] | None = None  # the worker's partitions, when it says
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.registry = CollectorRegistry()
        self._processed = Counter(
            "canyu_processed", "records processed, by the topic they came from", ["topic"], registry=self.registry
        )
        self._dead = Counter(
            "canyu_dead_lettered", "records sent to dead-letters, by the topic they came from", ["topic"],
            registry=self.registry,
        )  # fmt: skip
        self._retried = Counter("canyu_retried", "failed steps tried again by the retry policy", registry=self.registry)
        self._batch = Histogram(
            "canyu_batch_duration_seconds", "time to process one batch (the worker: one event)",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self._samples: deque[tuple[float, float]] = deque()  # (time, processed so far), for the rate

    def processed(self, topic: str, n: int = 1) -> None:
        self._processed.labels(topic).inc(n)

    def dead_lettered(self, topic: str | None, n: int = 1) -> None:
        self._dead.labels(topic or "").inc(n)

    def retried(self) -> None:
        self._retried.inc()

    def batch_seconds(self, seconds: float) -> None:
        self._batch.observe(seconds)

    def processed_batch(self, topics: Iterable[str], seconds: float) -> None:
        """A batch done: its records counted by topic, and how long it took."""
        for topic, n in Tally(topics).items():
            self.processed(topic, n)
        self.batch_seconds(seconds)

    def capture_errors(self) -> None:
        """Keep the last error logged (again, after a framework reset the logging set-up)."""
        root = logging.getLogger()
        if not any(isinstance(h, ErrorCapture) and h.metrics is self for h in root.handlers):
            root.addHandler(ErrorCapture(self))

    def error(self, message: str) -> None:
        self.last_error, self.last_error_at = message[:500], time.time()

    def total(self, name: str) -> float:
        """The sum of one count over its labels: ``processed``, ``dead_lettered`` or ``retried``."""
        metric = {"processed": self._processed, "dead_lettered": self._dead, "retried": self._retried}[name]
        return sum(s.value for m in metric.collect() for s in m.samples if s.name.endswith("_total"))

    def rate(self, now: float | None = None) -> float:
        """Records processed per second over the last minute (since the first sample, at first)."""
        now = time.time() if now is None else now
        processed = self.total("processed")
        self._samples.append((now, processed))
        while len(self._samples) > 1 and now - self._samples[1][0] >= RATE_WINDOW_S:
            self._samples.popleft()
        first_at, first = self._samples[0]
        return (processed - first) / (now - first_at) if now > first_at else 0.0

    def status(self, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        return {
            "service": self.service,
            "group": self.group,
            "pid": os.getpid(),
            "started": self.started,
            "updated": now,
            "processed": self.total("processed"),
            "dead_lettered": self.total("dead_lettered"),
            "retried": self.total("retried"),
            "rate_per_s": round(self.rate(now), 3),
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "assigned": self.assigned,
        }

    def start(self, service: str, settings: Settings, group: str, port: int | None = None, instance: str = "") -> Path:
        """Name this process's service; serve the metrics on ``port`` (with the group's lag) and keep
        the status file up to date. Returns the status file's path."""
        self.service, self.group = service, group
        self.capture_errors()
        if port is not None:
            registry = CollectorRegistry()
            registry.register(_Bound(self.registry))
            registry.register(LagCollector(settings, service, group))
            registry.register(_Info(self))
            serve(registry, port)
        path = status_path(settings, group, instance)

        def keep_writing() -> None:
            while True:
                try:
                    write_json_atomically(path, self.status())
                except OSError as e:
                    logging.getLogger(__name__).warning("cannot write %s: %s", path, e)
                time.sleep(STATUS_EVERY_S)

        threading.Thread(target=keep_writing, name="canyu-status", daemon=True).start()
        return path


class _Bound(Collector):
    """Another registry's metrics, so the served registry can add the lag without copying them."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        yield from self.registry.collect()


class _Info(Collector):
    def __init__(self, metrics: ServiceMetrics):
        self.metrics = metrics

    def collect(self):
        info = InfoMetricFamily("canyu_service", "which service this process runs, and its consumer group")
        info.add_metric([], {"service": self.metrics.service, "group": self.metrics.group})
        yield info
        last = GaugeMetricFamily("canyu_last_error_timestamp_seconds", "Unix time of the latest error logged")
        if self.metrics.last_error_at is not None:
            last.add_metric([], self.metrics.last_error_at)
        yield last


@lru_cache(maxsize=1)
def own_packages() -> frozenset[str]:
    """canyu's top-level packages, as its installed distribution lists them (pyproject.toml's packages),
    so that the runtime need not name the rooms, and a room added there counts from the start."""
    try:
        listed = metadata.distribution("canyu").read_text("top_level.txt") or ""
    except metadata.PackageNotFoundError:  # not installed: only the libraries' errors are kept
        listed = ""
    return frozenset(listed.split())


class ErrorCapture(logging.Handler):
    """Keeps the last error for the status file: warnings and worse from canyu's own code (retries,
    dead letters, refused commits), errors and worse from the libraries (Faust, Kafka clients)."""

    def __init__(self, metrics: ServiceMetrics):
        super().__init__(logging.WARNING)
        self.metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        own = record.name.split(".")[0] in own_packages()
        if own or record.levelno >= logging.ERROR:
            try:
                self.metrics.error(f"{record.name}: {record.getMessage()}")
            except Exception:  # noqa: BLE001 - a log handler must never raise
                self.handleError(record)


METRICS = ServiceMetrics()  # this process's
