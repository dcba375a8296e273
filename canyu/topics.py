"""Kafka topic names, the only place they are spelled, and who reads which.

``READS`` is the one table of the services' inputs: the worker wires its agents from
``WORKER_READS``, the Elasticsearch sink indexes what ``SINK_READS`` says, delivery reads
``DELIVER_READS``, and ``canyu_runtime.lag`` measures each consumer group's lag on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from canyu.schema import Alert, Cascade, EnrichedPost, FeedbackItem, ReleaseImpact

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


# The worker's agents (streams/app.py), each by the one topic it reads.
WORKER_READS = {
    "enrich": POSTS_RAW,
    "signals": POSTS_CLASSIFIED,
    "subscriptions": SUBSCRIPTIONS,
    "releases": RELEASES,
    "lifecycles": ITEM_LIFECYCLE,
    "notify": ALERTS,
}


@dataclass(frozen=True)
class Indexed:
    """How the Elasticsearch sink makes documents of a topic's records."""

    record: type[BaseModel]
    index_kind: str  # a name of canyu.indices.kinds
    id_field: str  # the document's id
    version_field: str  # its external version: a record with an older one changes nothing


SINK_READS = {
    POSTS_ENRICHED: Indexed(EnrichedPost, "posts", "id", "fetched_at"),
    ALERTS: Indexed(Alert, "alerts", "id", "created_at"),
    FEEDBACK_ITEMS: Indexed(FeedbackItem, "feedback-items", "id", "updated_at"),
    CASCADES: Indexed(Cascade, "cascades", "root_id", "updated_at"),
    RELEASE_IMPACTS: Indexed(ReleaseImpact, "release-impacts", "id", "updated_at"),
}

DELIVER_READS = (NOTIFICATIONS, NOTIFICATIONS_RETRY)

# Each service's consumer group commits its offsets on the topics it reads.
READS = {"worker": tuple(WORKER_READS.values()), "sink": tuple(SINK_READS), "deliver": DELIVER_READS}
