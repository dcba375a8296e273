"""The one Kafka producer configuration: sources publish posts with it, sinks their dead letters."""

from __future__ import annotations

from kafka import KafkaProducer

from canyu.schema import Post
from canyu.settings import Settings


def make_producer(settings: Settings) -> KafkaProducer:
    # Idempotent with acks=all: a retried send cannot duplicate or reorder a post.
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="canyu-producer",
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        linger_ms=20,
    )


def publish(producer: KafkaProducer, topic: str, post: Post):
    """Send one post keyed by its id, so every version of a post lands on one partition."""
    return producer.send(topic, key=post.id.encode(), value=post.model_dump_json().encode())
