"""The classifier interface that the streams (and evaluations) use.

``classify`` takes a batch of texts and returns one ``Classification`` per text,
in order. Implementations are deterministic, thread-safe and accept empty text,
for which they return language "und", sentiment "neutral" and intent "other".
Over-long text is judged on its beginning.

Backends, by the name that ``load_classifier`` (and the ``classifier`` setting) takes:

- ``offline`` (the default): USE multilingual vectors and trained heads, numpy only.
- ``transformers``: Hugging Face models, needs ``pip install 'canyu[transformers]'``.
- ``lexicon``: keyword counting, the transparent baseline.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from canyu.schema import INTENT_LABELS, SENTIMENT_LABELS

DEFAULT = "offline"
BACKENDS = ("offline", "transformers", "lexicon")


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


def load_classifier(name: str = DEFAULT) -> Classifier:
    if name == "offline":
        from models.offline import OfflineClassifier

        return OfflineClassifier()
    if name == "transformers":
        from models.hf import load_transformers_classifier

        return load_transformers_classifier()
    if name == "lexicon":
        from models.lexicon import LexiconClassifier

        return LexiconClassifier()
    raise ValueError(f"unknown classifier {name!r}; available: {', '.join(map(repr, BACKENDS))}")
