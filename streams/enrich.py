"""Turn raw Kafka values into enriched posts, or dead letters that say why not.

Pure functions of bytes, a classifier and the settings, so they are tested without Kafka.
Every record gets exactly one result: a record that no retry can fix (not a post, no
value at all, a date outside the sane window of :mod:`canyu.dates`, a text the
classifier fails on) becomes a dead letter, and the rest of its batch goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pydantic import ValidationError

from canyu.dates import out_of_window
from canyu.schema import DeadLetter, EnrichedPost, LabelScores, Post, TopicScore, VersionMention, utcnow
from canyu.settings import Settings
from canyu_runtime.kafka_clients import MAX_RECORD_BYTES
from canyu_runtime.reasons import reason_of
from canyu_runtime.retry import RetryPolicy
from models import Classifier

log = logging.getLogger(__name__)

# A failed classifier call is tried again briefly: the worker's event loop waits meanwhile.
CLASSIFIER_RETRY = RetryPolicy(first_s=0.2, max_s=1.0, attempts=3)


@dataclass(frozen=True)
class RawRecord:
    value: bytes | None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None

    def dead_letter(self, stage: str, reason: str, source: str | None = None) -> DeadLetter:
        """This record, kept whole (no value: empty bytes), with why ``stage`` gave up on it."""
        return DeadLetter.of(
            self.value or b"",
            stage=stage,
            reason=reason,
            source=source or source_of(self.value),
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            key=self.key,
        )


class Enriched(NamedTuple):
    post: EnrichedPost
    # The classifier's sentence vector, which the stateful step groups feedback by across
    # languages; not part of the post (the index has no use for it). None when the backend has none.
    embedding: Sequence[float] | None


def source_of(value: bytes | None) -> str | None:
    """The ``source`` a record names, when it is JSON that names one; for the dead letter's label."""
    try:
        source = json.loads(value or b"").get("source")
    except (ValueError, AttributeError):
        return None
    return source if isinstance(source, str) else None


def parse(record: RawRecord, settings: Settings) -> Post | DeadLetter:
    """A post whose dates are in the sane window, or the dead letter that says why not."""
    if record.value is None:
        return record.dead_letter("enrich", "no value: a null record is not a post")
    try:
        post = Post.model_validate_json(record.value)
    except ValidationError as e:
        return record.dead_letter("enrich", f"not a valid Post: {reason_of(e)}")
    # created_at against the fetch, and the fetch against this worker's clock: a producer's
    # clock gone wrong must not carry a date past the window either.
    reason = out_of_window(post.created_at, post.fetched_at, settings) or out_of_window(
        post.fetched_at, utcnow(), settings, what="fetched_at"
    )
    return record.dead_letter("enrich", reason, post.source) if reason else post


def classify(texts: list[str], classifier: Classifier, retry: RetryPolicy | None = None) -> list:
    """One classification per text, or the exception that text's classification ended in.

    The batch is tried again under ``retry``; if it still fails, each text alone, so one
    text that breaks the classifier is set aside and the others are labelled.
    """
    if not texts:
        return []

    def batch() -> list:
        labels = list(classifier.classify(texts))
        if len(labels) != len(texts):
            raise ValueError(f"the classifier returned {len(labels)} results for {len(texts)} texts")
        return labels

    try:
        return (retry or CLASSIFIER_RETRY).call(batch, what=f"classifying {len(texts)} posts", logger=log)
    except Exception as e:
        if len(texts) == 1:
            return [e]
        log.warning("classifying %d posts failed (%s); classifying them one by one", len(texts), reason_of(e))
    results = []
    for text in texts:
        try:
            (label,) = classifier.classify([text])
            results.append(label)
        except Exception as e:
            results.append(e)
    return results


def enrich_batch(
    records: Sequence[RawRecord],
    classifier: Classifier,
    settings: Settings,
    mentions: Callable[[str], list[str]] | None = None,
    retry: RetryPolicy | None = None,
    versions: Callable[[str, list[str]], list[VersionMention]] | None = None,
) -> list[Enriched | DeadLetter]:
    """One result per record, in order; the classifier sees the valid posts in a single call.

    ``mentions`` finds the catalogue products a text names; ``versions`` the software versions it
    names, given those products (``models.VersionFinder.find``).
    """
    parsed = [parse(r, settings) for r in records]
    posts = [(r, p) for r, p in zip(records, parsed, strict=True) if isinstance(p, Post)]
    labels = iter(classify([p.full_text for _, p in posts], classifier, retry))
    results: list[Enriched | DeadLetter] = []
    for record, item in zip(records, parsed, strict=True):
        if isinstance(item, DeadLetter):
            results.append(item)
            continue
        c = next(labels)
        if isinstance(c, BaseException):
            results.append(record.dead_letter("enrich", f"the classifier failed: {reason_of(c)}", item.source))
            continue
        try:
            enriched = EnrichedPost(
                **item.model_dump(exclude={"language"}),
                language=item.language or c.language,
                sentiment=LabelScores(label=c.sentiment.label, scores=c.sentiment.scores),
                intent=LabelScores(label=c.intent.label, scores=c.intent.scores),
                topics=[TopicScore(id=t, score=s) for t, s in c.topics],
                classifier=classifier.name,
            )
            if mentions is not None:
                enriched = enriched.model_copy(update={"products": mentions(enriched.full_text)})
            if versions is not None:
                enriched = enriched.model_copy(update={"versions": versions(enriched.full_text, enriched.products)})
            size = len(enriched.model_dump_json().encode())
            if size > MAX_RECORD_BYTES:  # the producer would refuse to send it, and stop the worker
                raise ValueError(f"{size} bytes once enriched, over the {MAX_RECORD_BYTES} a record may have")
        except Exception as e:
            results.append(record.dead_letter("enrich", f"not enriched: {reason_of(e)}", item.source))
            continue
        results.append(Enriched(enriched, c.embedding))
    return results
