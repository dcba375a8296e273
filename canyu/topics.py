"""Kafka topic names: the only place they are spelled."""

from __future__ import annotations

POSTS_RAW = "posts.raw"
POSTS_CLASSIFIED = "posts.classified"  # internal: one partition, so the stateful step sees every post
POSTS_ENRICHED = "posts.enriched"
DEAD_LETTERS = "dead-letters"  # records that no retry can fix, from every stage, with the reason
ALERTS = "alerts"
FEEDBACK_ITEMS = "feedback.items"
CASCADES = "cascades"
SUBSCRIPTIONS = "subscriptions"  # compacted: the latest record per subscription id wins
NOTIFICATIONS = "notifications"
NOTIFICATIONS_RETRY = "notifications.retry"  # failed deliveries, each due again after a backoff
COUNTS = "counts"  # compacted: the latest count per window and key, for live charts

ALL = (
    POSTS_RAW,
    POSTS_CLASSIFIED,
    POSTS_ENRICHED,
    DEAD_LETTERS,
    ALERTS,
    FEEDBACK_ITEMS,
    CASCADES,
    SUBSCRIPTIONS,
    NOTIFICATIONS,
    NOTIFICATIONS_RETRY,
    COUNTS,
)
COMPACTED = (SUBSCRIPTIONS, COUNTS)
SINGLE_PARTITION = (POSTS_CLASSIFIED,)
