"""The shared contract: what a post looks like on every topic and in the index.

Every room (producers, streams, models, sinks, queries) imports these types and
nothing from each other. A missing engagement count is ``None``, never ``0``:
"the source did not say" and "nobody liked it" are different facts.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

SentimentLabel = Literal["negative", "neutral", "positive"]
IntentLabel = Literal["bug_report", "feature_request", "question", "complaint", "praise", "other"]

SENTIMENT_LABELS: tuple[str, ...] = SentimentLabel.__args__
INTENT_LABELS: tuple[str, ...] = IntentLabel.__args__


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Author(_Strict):
    id: str = Field(min_length=1)
    name: str | None = None
    followers: NonNegativeInt | None = None
    verified: bool | None = None


class Engagement(_Strict):
    likes: NonNegativeInt | None = None
    reposts: NonNegativeInt | None = None
    comments: NonNegativeInt | None = None


class Post(_Strict):
    """A post as a producer saw it, before any enrichment."""

    id: str = Field(description='"{source}:{native_id}", always a string')
    source: str = Field(min_length=1, pattern=r"^[^:\s]+$")
    url: str | None = None
    title: str | None = None
    text: str
    language: str | None = Field(default=None, description="as declared by the source, if it says")
    created_at: AwareDatetime
    author: Author
    engagement: Engagement = Engagement()
    parent_id: str | None = Field(default=None, description="the post this one replies to")
    repost_of: str | None = Field(default=None, description="the post this one reposts")
    fetched_at: AwareDatetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _id_names_its_source(self) -> Post:
        prefix = f"{self.source}:"
        if not self.id.startswith(prefix) or len(self.id) == len(prefix):
            raise ValueError(f"id {self.id!r} must look like '{prefix}<native_id>'")
        return self

    @staticmethod
    def make_id(source: str, native_id: str | int) -> str:
        return f"{source}:{native_id}"


class LabelScores(_Strict):
    label: str
    scores: dict[str, float]


class TopicScore(_Strict):
    id: str
    score: float


class EnrichedPost(Post):
    """A post with what the classifier made of it.

    ``language`` here is final: the source's declaration when it made one,
    otherwise the classifier's guess ("und" when it has none).
    """

    language: str
    sentiment: LabelScores
    intent: LabelScores
    topics: list[TopicScore] = []
    classifier: str = Field(description="name and version of the classifier that labelled it")
    enriched_at: AwareDatetime = Field(default_factory=utcnow)


class DeadLetter(_Strict):
    """A record that could not be processed, kept whole so nothing is lost."""

    stage: str = Field(description="which room gave up on it, e.g. 'enrich' or 'sink'")
    reason: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    raw_base64: str = Field(description="the original value bytes, exactly, base64-encoded")
    failed_at: AwareDatetime = Field(default_factory=utcnow)

    @classmethod
    def of(cls, raw: bytes, *, stage: str, reason: str, **where: object) -> DeadLetter:
        return cls(stage=stage, reason=reason, raw_base64=base64.b64encode(raw).decode("ascii"), **where)

    def raw(self) -> bytes:
        return base64.b64decode(self.raw_base64)
