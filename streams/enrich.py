"""Turn raw Kafka values into enriched posts, or dead letters that say why not.

Pure functions of bytes and a classifier, so they are tested without Kafka.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from canyu.schema import DeadLetter, EnrichedPost, LabelScores, Post, TopicScore
from canyu_runtime.reasons import reason_of
from models import Classifier


@dataclass(frozen=True)
class RawRecord:
    value: bytes
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None


def parse(record: RawRecord) -> Post | DeadLetter:
    try:
        return Post.model_validate_json(record.value)
    except ValidationError as e:
        return DeadLetter.of(
            record.value,
            stage="enrich",
            reason=f"not a valid Post: {reason_of(e)}",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
        )


def enrich_batch(records: Sequence[RawRecord], classifier: Classifier) -> list[EnrichedPost | DeadLetter]:
    """One result per record, in order; the classifier sees the valid posts in a single call."""
    parsed = [parse(r) for r in records]
    posts = [p for p in parsed if isinstance(p, Post)]
    labels = iter(classifier.classify([p.full_text for p in posts]))
    results: list[EnrichedPost | DeadLetter] = []
    for item in parsed:
        if isinstance(item, DeadLetter):
            results.append(item)
            continue
        c = next(labels)
        results.append(
            EnrichedPost(
                **item.model_dump(exclude={"language"}),
                language=item.language or c.language,
                sentiment=LabelScores(label=c.sentiment.label, scores=c.sentiment.scores),
                intent=LabelScores(label=c.intent.label, scores=c.intent.scores),
                topics=[TopicScore(id=t, score=s) for t, s in c.topics],
                classifier=classifier.name,
            )
        )
    return results
