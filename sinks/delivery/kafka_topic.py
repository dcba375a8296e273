"""A Kafka topic: the notification as JSON, keyed by its id; delivered once the broker acknowledged it."""

from __future__ import annotations

from kafka import KafkaProducer

from canyu.schema import Notification
from canyu.settings import Settings
from sinks.delivery.channel import Sender


class KafkaTopic(Sender):
    kind = "kafka"

    def __init__(self, settings: Settings, producer: KafkaProducer):
        super().__init__(settings)
        self.producer = producer

    def send(self, notice: Notification, deadline: float) -> None:
        value = notice.model_dump_json().encode()
        sent = self.producer.send(notice.channel.target, key=notice.id.encode(), value=value)
        sent.get(timeout=self.settings.delivery.timeout_s)  # delivered means acknowledged, like the other channels
