"""The classifier interface that the streams (and evaluations) use.

``classify`` takes a batch of texts and returns one ``Classification`` per text,
in order. Implementations are deterministic, thread-safe and accept empty text,
for which they return language "und", sentiment "neutral" and intent "other".
Over-long text is judged on its beginning.

Only the interface lives here; the backends implement it, and ``models`` (the
package) picks one by name.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from canyu.schema import INTENT_LABELS, SENTIMENT_LABELS


@dataclass(frozen=True)
class Scored:
    label: str
    scores: dict[str, float]  # every label of the task, summing to 1


@dataclass(frozen=True)
class Classification:
    language: str  # ISO 639-1 ("zh", "ko", "en", ...) or "und"
    sentiment: Scored  # negative | neutral | positive
    intent: Scored  # bug_report | feature_request | question | complaint | praise | other
    topics: list[tuple[str, float]]  # (topic id, score), best first; may be empty
    # The multilingual sentence vector the classifier read the text by (L2-normalised), for the
    # worker to group the same feedback across languages; None for backends that have none. It is
    # what the labels were read from, not a label: two classifications with equal labels are equal.
    embedding: Sequence[float] | None = field(default=None, compare=False)


class Classifier(Protocol):
    name: str  # name and version, recorded on every enriched post

    def classify(self, texts: Sequence[str]) -> list[Classification]: ...


def is_blank(text: str) -> bool:
    """Nothing to read: only spaces, controls and format characters such as zero-width spaces."""
    return all(unicodedata.category(c) in ("Zs", "Zl", "Zp", "Cc", "Cf") for c in text)


def clean_texts(texts: Sequence[str]) -> list[str]:
    """None as "", and lone surrogates (which JSON can carry, but no tokenizer takes) as "?"."""
    return [(t or "").encode("utf-8", "replace").decode("utf-8") for t in texts]


def empty_classification() -> Classification:
    """What every backend says about a post with no text."""
    return Classification(
        language="und",
        sentiment=Scored("neutral", {s: float(s == "neutral") for s in SENTIMENT_LABELS}),
        intent=Scored("other", {i: float(i == "other") for i in INTENT_LABELS}),
        topics=[],
    )
