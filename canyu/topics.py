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
RELEASES = "releases"  # compacted: the latest record per release (<product>|<version>)
ITEM_LIFECYCLE = "items.lifecycle"  # compacted: each feedback item's state and history, by item id
RELEASE_IMPACTS = "release.impacts"  # compacted: each release's current impact, by release key

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
    RELEASES,
    ITEM_LIFECYCLE,
    RELEASE_IMPACTS,
)
COMPACTED = (SUBSCRIPTIONS, COUNTS, RELEASES, ITEM_LIFECYCLE, RELEASE_IMPACTS)
SINGLE_PARTITION = (POSTS_CLASSIFIED,)
