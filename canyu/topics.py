"""Kafka topic names: the only place they are spelled."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from canyu.settings import Settings

POSTS_RAW = "posts.raw"
POSTS_CLASSIFIED = "posts.classified"  # internal: one partition, so the stateful step sees every post
POSTS_ENRICHED = "posts.enriched"
POSTS_DLQ = "posts.dlq"
ALERTS = "alerts"
FEEDBACK_ITEMS = "feedback.items"
CASCADES = "cascades"
SUBSCRIPTIONS = "subscriptions"  # compacted: the latest record per subscription id wins
NOTIFICATIONS = "notifications"
COUNTS = "counts"  # compacted: the latest count per window and key, for live charts

ALL = (
    POSTS_RAW,
    POSTS_CLASSIFIED,
    POSTS_ENRICHED,
    POSTS_DLQ,
    ALERTS,
    FEEDBACK_ITEMS,
    CASCADES,
    SUBSCRIPTIONS,
    NOTIFICATIONS,
    COUNTS,
)
COMPACTED = (SUBSCRIPTIONS, COUNTS)
SINGLE_PARTITION = (POSTS_CLASSIFIED,)


def ensure_topics(settings: Settings) -> list[str]:
    """Create any missing canyu topic; return the ones that were created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="canyu-admin")
    try:
        missing = [t for t in settings.all_topics if t not in set(admin.list_topics())]
        created = []
        for name in missing:
            compacted = any(name == settings.topic(t) for t in COMPACTED)
            configs = {"cleanup.policy": "compact"} if compacted else {}
            single = any(name == settings.topic(t) for t in SINGLE_PARTITION)
            partitions = 1 if single else settings.topic_partitions
            try:
                admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs)])
                created.append(name)
            except TopicAlreadyExistsError:  # another process won the race
                pass
        return created
    finally:
        admin.close()
