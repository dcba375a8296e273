"""``changelog``: records on the worker app's ``*-changelog`` topics per post processed, after ``e2e``."""

from __future__ import annotations

from kafka import TopicPartition

from bench.pipeline.namespace import Pipeline
from canyu.settings import Settings
from canyu_runtime.kafka_clients import make_consumer


def changelog_records(settings: Settings) -> dict[str, int]:
    """Records written to each changelog topic of the worker app: the sum of its end offsets."""
    consumer = make_consumer(settings, enable_auto_commit=False)
    try:
        names = [
            t for t in consumer.topics() if t.startswith(f"{settings.worker_app_id}-") and t.endswith("-changelog")
        ]
        parts = [TopicPartition(t, p) for t in names for p in consumer.partitions_for_topic(t) or ()]
        ends = consumer.end_offsets(parts)
    finally:
        consumer.close()
    return {name: sum(end for tp, end in ends.items() if tp.topic == name) for name in sorted(names)}


def changelog(pipe: Pipeline) -> dict:
    """Changelog records per post published to this namespace, in all and by table."""
    tables = changelog_records(pipe.settings)
    prefix = f"{pipe.settings.worker_app_id}-"
    return {
        "per_post": sum(tables.values()) / pipe.published,
        "posts": pipe.published,
        "tables": {t.removeprefix(prefix): n for t, n in tables.items()},
    }
