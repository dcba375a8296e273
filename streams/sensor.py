"""The worker's counts, taken from Faust's sensor hooks into the runtime's one set of metrics.

Faust calls ``on_message_out`` once every agent has processed a record, just before its
offset may be committed: that is a processed record. The time from an event entering an
agent's stream to its acknowledgement is the worker's batch latency (``enrich`` takes events
in batches, so its events wait for their batch). After each rebalance the worker's partitions
go to the status file, where ``canyu health worker`` finds them even when the worker is hung.
"""

from __future__ import annotations

from time import monotonic

from faust.sensors import Sensor
from prometheus_client.core import GaugeMetricFamily

from canyu_runtime.metrics import METRICS, ServiceMetrics


class MetricsSensor(Sensor):
    def __init__(self, metrics: ServiceMetrics = METRICS, **kwargs):
        super().__init__(**kwargs)
        self.metrics = metrics

    def on_message_out(self, tp, offset, message) -> None:
        self.metrics.processed(tp.topic)

    def on_stream_event_in(self, tp, offset, stream, event):
        return {"time_in": monotonic()}

    def on_stream_event_out(self, tp, offset, stream, event, state=None) -> None:
        if state:
            self.metrics.batch_seconds(monotonic() - state["time_in"])

    def on_rebalance_end(self, app, state) -> None:
        self.metrics.assigned = sorted((tp.topic, tp.partition) for tp in app.assignor.assigned_actives())
        self.metrics.capture_errors()  # the worker's logging set-up replaced the root handlers


class ClockCollector:
    """The stateful step's event-time clock, read at each scrape: the watermark, and the posts that
    came late (counted all the same) or too old to count. Nothing until the worker has read its tables."""

    def __init__(self, state):
        self.state = state  # streams.signals.Signals

    def collect(self):
        clock = self.state.clock
        if clock is None:
            return
        yield GaugeMetricFamily("canyu_posts_late", "posts counted after their alerting windows closed", clock.late)
        yield GaugeMetricFamily("canyu_posts_too_old", "posts older than the counts keep, not counted", clock.too_old)
        if clock.watermark is not None:
            yield GaugeMetricFamily("canyu_watermark_seconds", "event time the stream has reached", clock.watermark)
