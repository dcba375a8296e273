"""Kafka for every room: the one producer configuration, consumers, admin clients, and creating the topics."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import TopicAlreadyExistsError

from canyu import topics
from canyu.schema import Post
from canyu.settings import Settings

MAX_RECORD_BYTES = 1_000_000  # a record's value, kept under the producer's max_request_size (1 MiB) with room


def make_producer(settings: Settings) -> KafkaProducer:
    # Idempotent with acks=all: a retried send cannot duplicate or reorder a record.
    return KafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap,
        client_id="canyu-producer",
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        linger_ms=20,
    )


def make_consumer(settings: Settings, *topic_names: str, **config) -> KafkaConsumer:
    return KafkaConsumer(*topic_names, bootstrap_servers=settings.kafka.bootstrap, **config)


def make_admin(settings: Settings, client_id: str = "canyu-admin", **config) -> KafkaAdminClient:
    """An admin client on the settings' cluster; ``client_id`` says who asks in the broker's logs."""
    return KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap, client_id=client_id, **config)


def read_all(settings: Settings, topic: str, timeout_s: float = 30) -> list[ConsumerRecord]:
    """Every record on a topic now, from the beginning to the end offsets it had when we looked."""
    consumer = make_consumer(settings, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        end = consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} took longer than {timeout_s:g}s")
            for batch in consumer.poll(timeout_ms=500).values():
                records += batch
        return records
    finally:
        consumer.close()


def publish(producer: KafkaProducer, topic: str, post: Post):
    """Send one post keyed by its id, so every version of a post lands on one partition."""
    return producer.send(topic, key=post.id.encode(), value=post.model_dump_json().encode())


def topic_configs(settings: Settings, name: str) -> dict[str, str]:
    """The configs a new canyu topic gets, beyond the broker's defaults."""
    configs = {"min.insync.replicas": str(settings.kafka.min_insync_replicas)}
    if name in topics.COMPACTED:
        configs["cleanup.policy"] = "compact"
    if name == topics.DEAD_LETTERS:
        configs["retention.ms"] = str(int(settings.kafka.dead_letter_retention_days * 86_400_000))
    return configs


def ensure_topics(settings: Settings) -> list[str]:
    """Create any missing canyu topic; return the ones that were created."""
    admin = make_admin(settings)
    try:
        existing = set(admin.list_topics())
        created = []
        for name in topics.ALL:
            full_name = settings.topic(name)
            if full_name in existing:
                continue
            partitions = 1 if name in topics.SINGLE_PARTITION else settings.kafka.topic_partitions
            replicas = settings.kafka.replication_factor
            try:
                admin.create_topics(
                    [NewTopic(full_name, partitions, replicas, topic_configs=topic_configs(settings, name))]
                )
                created.append(full_name)
            except TopicAlreadyExistsError:  # another process won the race
                pass
        return created
    finally:
        admin.close()
