"""Per-source counts: for the status line, ``canyu produce --status`` and Prometheus."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from canyu.settings import Settings
from canyu_runtime.metrics import serve
from producers.state import source_dir, write_json_atomically

COUNTS = {
    "fetched": "records read from the source",
    "published": "posts Kafka acknowledged on posts.raw",
    "duplicates": "records skipped because an earlier page published them",
    "failed": "records sent to dead-letters",
    "poll_errors": "polls that failed (network, HTTP, unreadable or empty response)",
}


@dataclass
class SourceStats:
    source: str
    kind: str
    fetched: int = 0
    published: int = 0
    duplicates: int = 0
    failed: int = 0
    poll_errors: int = 0
    last_success: float | None = None  # Unix time of the latest page saved after Kafka's acknowledgement
    last_error: str | None = None

    def line(self) -> str:
        when = "never" if self.last_success is None else _clock(self.last_success)
        text = (
            f"{self.source}: fetched {self.fetched}, published {self.published}, duplicates {self.duplicates}, "
            f"failed {self.failed}, poll errors {self.poll_errors}, last success {when}"
        )
        return f"{text} (last error: {self.last_error})" if self.last_error else text

    def save(self, settings: Settings) -> None:
        write_json_atomically(source_dir(settings, self.source) / "status.json", asdict(self))


def _clock(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def saved_stats(settings: Settings) -> list[SourceStats]:
    """The latest status every source of this namespace saved, by name."""
    root = settings.home / "producers"
    found = []
    for path in sorted(root.glob(f"{settings.namespace}*/status.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found.append(SourceStats(**{f.name: data.get(f.name) for f in fields(SourceStats) if f.name in data}))
    return found


class StatsCollector(Collector):
    """Reads the live counts at each scrape, so there is no second set of numbers to keep in step."""

    def __init__(self, stats: list[SourceStats]):
        self.stats = stats

    def collect(self):
        for count, help_text in COUNTS.items():
            family = CounterMetricFamily(f"canyu_producer_{count}", help_text, labels=["source"])
            for s in self.stats:
                family.add_metric([s.source], getattr(s, count))
            yield family
        last = GaugeMetricFamily(
            "canyu_producer_last_success_timestamp_seconds",
            "Unix time of the latest acknowledged page",
            labels=["source"],
        )
        for s in self.stats:
            if s.last_success is not None:
                last.add_metric([s.source], s.last_success)
        yield last


def serve_metrics(stats: list[SourceStats], port: int, host: str = "127.0.0.1") -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StatsCollector(stats))
    serve(registry, port, host)
    return registry
