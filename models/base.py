"""The classifier interface that the streams (and evaluations) use.

``classify`` takes a batch of texts and returns one ``Classification`` per text,
in order. Implementations are deterministic, thread-safe and accept empty text,
for which they return language "und", sentiment "neutral" and intent "other".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


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


def load_classifier(name: str = "lexicon") -> Classifier:
    if name == "lexicon":
        from models.lexicon import LexiconClassifier

        return LexiconClassifier()
    raise ValueError(f"unknown classifier {name!r}; available: 'lexicon'")
