"""The shared contract: what a post looks like on every topic and in the index.

Every room (producers, streams, models, sinks, queries) imports these types and
nothing from each other. A missing engagement count is ``None``, never ``0``:
"the source did not say" and "nobody liked it" are different facts.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from datetime import datetime, timezone
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt, field_validator, model_validator

from canyu.versions import VERSION_PATTERN

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


LINK_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def link_problem(url: str) -> str | None:
    """Why ``url`` cannot be a post's link, or None when it can: an http(s) URL with a host and no user
    information, or a path on the source's own site (``/t/slug/7/4``: a saved file read without its base URL).

    A ``javascript:`` link would run where the post is shown; ``https://forum.example@evil.example/`` (a
    Discourse ``post_url`` of ``@evil.example/``, joined to the forum's address) leads to evil.example."""
    if LINK_CONTROL.search(url):
        return "contains a control character"
    if url.startswith("/") and not url.startswith(("//", "/\\")):  # "//host" and "/\\host" are other hosts
        return None
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme.lower() not in ("http", "https"):
        return "is not an http(s) URL or a path"
    if not parsed.hostname:
        return "has no host"
    if "@" in parsed.netloc:
        return "carries user information (user@host), which hides the host it leads to"
    try:
        _ = parsed.port  # raises on a port that is no number from 0 to 65535
    except ValueError:
        return "has a port that is no number from 0 to 65535"
    return None


class Post(_Strict):
    """A post as a producer saw it, before any enrichment."""

    id: str = Field(description='"{source}:{native_id}", always a string')
    source: str = Field(min_length=1, pattern=r"^[^:\s]+$")
    url: str | None = Field(None, description="http(s) with a host and no user@, or a path on the source's site")
    title: str | None = None
    text: str
    language: str | None = Field(default=None, description="as declared by the source, if it says")
    created_at: AwareDatetime
    author: Author
    engagement: Engagement = Engagement()
    parent_id: str | None = Field(default=None, description="the post this one replies to")
    repost_of: str | None = Field(default=None, description="the post this one reposts")
    fetched_at: AwareDatetime = Field(default_factory=utcnow)

    @field_validator("url")
    @classmethod
    def _a_link_that_leads_where_it_says(cls, url: str | None) -> str | None:
        problem = link_problem(url) if url is not None else None
        if problem:
            raise ValueError(f"the link {problem}")
        return url

    @model_validator(mode="after")
    def _id_names_its_source(self) -> Post:
        prefix = f"{self.source}:"
        if not self.id.startswith(prefix) or len(self.id) == len(prefix):
            raise ValueError(f"id {self.id!r} must look like '{prefix}<native_id>'")
        return self

    @staticmethod
    def make_id(source: str, native_id: str | int) -> str:
        return f"{source}:{native_id}"

    @property
    def full_text(self) -> str:
        """Title and body: what classifiers and similarity measures read."""
        return f"{self.title}\n{self.text}" if self.title else self.text


class LabelScores(_Strict):
    """A label, every label's score (calibrated probabilities), and the probability of the chosen one.

    ``confidence`` is filled from ``scores[label]`` when a record lacks it (older records), and
    0.0 when the scores do not name the label either.
    """

    label: str
    scores: dict[str, float]
    confidence: float = Field(ge=0.0, le=1.0, description="the probability of the label: scores[label]")

    @model_validator(mode="before")
    @classmethod
    def _confidence_from_scores(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("confidence") is None:
            scores = data.get("scores")
            label = data.get("label")
            score = scores.get(label) if isinstance(scores, dict) and isinstance(label, str) else None
            try:
                confidence = min(max(float(score), 0.0), 1.0) if score is not None else 0.0
            except (TypeError, ValueError):  # no number: the validation of ``scores`` refuses it
                confidence = 0.0
            data = {**data, "confidence": confidence}
        return data


class TopicScore(_Strict):
    id: str
    score: float


SLUG = r"^[a-z0-9][a-z0-9._-]{0,63}$"  # product ids and software lines


class VersionMention(_Strict):
    """A software version a post names: its line, the normalised version, and the product named with it.

    ``tag`` ("<line> <version>") is filled in from the two, so that the index can filter on the
    pair: a post naming HyperOS 1.0.6.0 and MIUI 15.0.7 must not match "hyperos 15.0.7".
    """

    line: str = Field(pattern=SLUG, description='"hyperos", "miui", "oneui", "ios", "android", …, or "app"')
    version: str = Field(pattern=VERSION_PATTERN, description='normalised: "1.0.7.0", "3.2.1"')
    product: str | None = Field(default=None, description="the catalogue product the post names, if any")
    tag: str = Field(default="", description='"<line> <version>", derived')

    @model_validator(mode="before")
    @classmethod
    def _tag_from_line_and_version(cls, data: object) -> object:
        if isinstance(data, dict):
            data = {**data, "tag": f"{data.get('line')} {data.get('version')}"}
        return data


class EnrichedPost(Post):
    """A post with what the classifier made of it.

    ``language`` here is final: the source's declaration when it made one,
    otherwise the classifier's guess ("und" when it has none).
    """

    language: str
    sentiment: LabelScores
    intent: LabelScores
    topics: list[TopicScore] = []
    products: list[str] = Field(default=[], description="product ids from the catalogue that the post mentions")
    duplicate_of: str | None = Field(default=None, description="an earlier post with (nearly) the same text")
    versions: list[VersionMention] = Field(default=[], description="software versions the post names")
    item_id: str | None = Field(default=None, description="the feedback item the post was grouped into")
    classifier: str = Field(description="name and version of the classifier that labelled it")
    enriched_at: AwareDatetime = Field(default_factory=utcnow)


class DeadLetter(_Strict):
    """A record that could not be processed, kept whole so nothing is lost."""

    stage: str = Field(description="which room gave up on it, e.g. 'enrich' or 'sink'")
    source: str | None = Field(default=None, description="the source it came from, when known")
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


AlertKind = Literal["spike", "viral", "regression", "fix_failed"]


class Alert(_Strict):
    """Something engineers or community managers should look at now."""

    id: str = Field(description="deterministic: the same spike in the same window always has the same id")
    kind: AlertKind
    key: str = Field(description='what spiked, e.g. "topic=battery|sentiment=negative" or "root=weibo:1"')
    dimensions: dict[str, str] = Field(default={}, description="the key as fields: topic, sentiment, product, ...")
    window_start: AwareDatetime
    window_end: AwareDatetime
    observed: float = Field(description="count in the window (posts), or reposts per 10 minutes for viral")
    baseline_mean: float
    baseline_std: float
    threshold: float
    sample_post_ids: list[str] = Field(default=[], max_length=5)
    samples: list[str] = Field(default=[], max_length=5, description="the sample posts' texts, shortened")
    created_at: AwareDatetime = Field(default_factory=utcnow)


ItemState = Literal["open", "acknowledged", "fixed", "wontfix"]  # what engineers said (canyu.lifecycle)
# What the item is now: the engineers' state, or what the stream saw since (verified, fix_failed),
# or closed when no post joined it for the idle time and the worker stopped tracking it.
ItemStatus = Literal["open", "acknowledged", "fixed", "verified", "fix_failed", "wontfix", "closed"]


class ItemChange(_Strict):
    """One change in an item's life: by a person (ack, fix, reopen, wontfix) or seen by the stream."""

    action: Literal["ack", "fix", "reopen", "wontfix", "verified", "fix_failed"]
    at: AwareDatetime = Field(default_factory=utcnow)
    version: str | None = Field(default=None, pattern=VERSION_PATTERN, description="fix: the version it ships in")
    note: str | None = Field(default=None, max_length=2000)
    by: str | None = Field(default=None, max_length=200, description="who: cli, dashboard, or canyu (the stream)")


class ItemLifecycle(_Strict):
    """An item's state as engineers set it, with its history: the value on ``items.lifecycle`` (key: item id)."""

    item_id: str
    state: ItemState = "open"
    fixed_in: str | None = Field(default=None, pattern=VERSION_PATTERN)
    history: list[ItemChange] = []
    updated_at: AwareDatetime = Field(default_factory=utcnow)


class FeedbackItem(_Strict):
    """Bug reports or feature requests about the same thing, grouped for engineers."""

    id: str
    title: str = Field(description="the text of its most representative post")
    intent: IntentLabel
    product: str | None = None
    topic: str | None = None
    count: NonNegativeInt
    unique_authors: NonNegativeInt
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    trend: dict[str, int] = Field(default={}, description="posts per day, keyed by ISO date")
    sample_post_ids: list[str] = []
    languages: dict[str, int] = Field(default={}, description="posts per language")
    versions: dict[str, int] = Field(default={}, description='posts per version they name, "<line> <version>"')
    status: ItemStatus = "open"
    fixed_in: str | None = Field(default=None, pattern=VERSION_PATTERN)
    history: list[ItemChange] = []
    updated_at: AwareDatetime = Field(default_factory=utcnow)


class Amplifier(_Strict):
    author_id: str
    followers: NonNegativeInt | None = None
    reposts: NonNegativeInt


class Cascade(_Strict):
    """How far one root post travelled by reposts (word of mouth)."""

    root_id: str
    root_author_id: str | None = None
    reposts: NonNegativeInt
    depth: NonNegativeInt = Field(description="longest repost chain below the root")
    reach: NonNegativeInt = Field(description="sum of the reposting authors' followers")
    velocity: float = Field(description="reposts in the latest 10 minutes")
    top_amplifiers: list[Amplifier] = []
    first_seen: AwareDatetime
    last_repost_at: AwareDatetime | None = None
    updated_at: AwareDatetime = Field(default_factory=utcnow)


class SubscriptionMatch(_Strict):
    """Every field given must match; an empty match takes every alert."""

    topics: list[str] = []
    products: list[str] = []
    intents: list[IntentLabel] = []
    sentiments: list[SentimentLabel] = []
    query: str | None = Field(default=None, description="text that one of the alert's sample posts must contain")
    alert_kinds: list[AlertKind] = []


CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")  # control characters, and white space, which no target needs
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
KAFKA_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def target_problem(channel_type: str, target: str) -> str | None:
    """Why ``target`` cannot be a ``channel_type`` channel's target, or None when it can."""
    if CONTROL.search(target):
        return "contains a control character or white space"
    if channel_type in ("webhook", "slack"):
        parsed = urllib.parse.urlsplit(target)
        if parsed.scheme not in ("http", "https"):
            return "is not an http(s) URL"
        if not parsed.hostname:
            return "has no host"
        try:
            port = parsed.port  # raises on a port that is not a number from 0 to 65535
        except ValueError:
            port = 0
        if port == 0:
            return "has a port outside 1-65535"
    elif channel_type == "email":
        if len(target) > 254 or not EMAIL.match(target):
            return "is not an email address like team@example.com"
    elif channel_type == "kafka":
        if not KAFKA_TOPIC.match(target) or target in (".", ".."):
            return "is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"
    return None


PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
# The same rules as ``target_problem``, as patterns, so the API's spec says what it accepts.
TARGET_PATTERNS = {
    "webhook": rf"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::{PORT})?(?:/[!-~]*)?$",
    "email": EMAIL.pattern,
    "kafka": r"^(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,248}|\.[A-Za-z0-9._-]{2,248}|\.\.[A-Za-z0-9._-]{1,247})$",
}
TARGET_PATTERNS["slack"] = TARGET_PATTERNS["webhook"]


class Channel(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,  # a Slack URL is a secret
        json_schema_extra={
            "allOf": [
                {"if": {"properties": {"type": {"const": kind}}}, "then": {"properties": {"target": {"pattern": p}}}}
                for kind, p in TARGET_PATTERNS.items()
            ]
        },
    )

    type: Literal["webhook", "slack", "email", "kafka"]
    target: str = Field(
        max_length=2048, description="URL for webhook/slack, address for email, topic for kafka; checked when made"
    )
    secret_env: str | None = Field(
        default=None, pattern=ENV_NAME.pattern, description="environment variable holding the HMAC secret"
    )

    @model_validator(mode="after")
    def _target_fits_the_type(self) -> Channel:
        problem = target_problem(self.type, self.target)
        if problem:
            raise ValueError(f"the {self.type} target {problem}")  # a Slack URL's path is a secret: not repeated
        return self


class Subscription(_Strict):
    id: str
    name: str
    match: SubscriptionMatch = SubscriptionMatch()
    min_observed: float | None = Field(default=None, description="only alerts at least this large; None: every alert")
    channel: Channel
    created_at: AwareDatetime = Field(default_factory=utcnow)


class Notification(_Strict):
    id: str = Field(description="stable per (subscription, alert): receivers deduplicate on it")
    subscription_id: str
    channel: Channel
    alert: Alert
    created_at: AwareDatetime = Field(default_factory=utcnow)


class Release(_Strict):
    """A build that shipped: registered by a team (``canyu release add``) or seen in posts.

    Kept on the compacted ``releases`` topic under ``key``; the latest record per key wins.
    """

    product: str = Field(pattern=SLUG, description="a catalogue product or a software line: xiaomi-14, hyperos")
    version: str = Field(pattern=VERSION_PATTERN)
    date: AwareDatetime = Field(description="when it shipped; for a release seen in posts, when it was first named")
    notes_url: str | None = Field(default=None, max_length=2048)
    source: Literal["registered", "seen"] = "registered"
    authors: NonNegativeInt | None = Field(default=None, description="seen: distinct authors that named it in a day")
    created_at: AwareDatetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _notes_are_a_link(self) -> Release:
        if self.notes_url is not None:
            problem = target_problem("webhook", self.notes_url)
            if problem:
                raise ValueError(f"the notes URL {problem}")
        return self

    @property
    def key(self) -> str:
        return f"{self.product}|{self.version}"

    @staticmethod
    def key_of(product: str, version: str) -> str:
        return f"{product}|{version}"


class Evidence(_Strict):
    """A post shown as evidence: enough to read it and find it."""

    post_id: str
    text: str = Field(description="shortened")
    created_at: AwareDatetime
    language: str | None = None
    versions: list[str] = Field(default=[], description="the version tags it names")


class ImpactItem(_Strict):
    """A feedback item in a release's impact: its reports (posts that neither read positive nor say the problem is
    gone) in the window before and after the release."""

    item_id: str
    title: str
    intent: IntentLabel
    product: str | None = None
    topic: str | None = None
    before: NonNegativeInt = Field(
        description="reports (posts neither positive nor saying it is gone) in the window before the release"
    )
    after: NonNegativeInt = Field(description="reports in the window after it (so far)")
    first_seen: AwareDatetime
    opened_after: bool
    version_share: float | None = Field(default=None, description="share of its reports after that name the version")
    languages: dict[str, int] = {}
    status: ItemStatus = "open"
    evidence: list[Evidence] = Field(default=[], max_length=5)


class Share(_Strict):
    """A share of posts, with its 95% Wilson interval (None without posts)."""

    count: NonNegativeInt
    total: NonNegativeInt
    share: float | None = None
    low: float | None = None
    high: float | None = None


class ReleaseImpact(_Strict):
    """What a release did, over ``window_days`` before and after its date, kept current by the stream."""

    id: str = Field(description="the release's key: <product>|<version>")
    product: str
    version: str
    date: AwareDatetime
    source: Literal["registered", "seen"]
    notes_url: str | None = None
    window_days: NonNegativeInt
    observed_until: AwareDatetime = Field(description="the stream's event time when this was computed")
    regressions: list[ImpactItem] = Field(default=[], description="opened after it, or daily reports jumped")
    quieted: list[ImpactItem] = Field(default=[], description="reported before it, quiet after")
    persisting: list[ImpactItem] = Field(default=[], description="reported before it, and still after")
    negative_before: Share = Field(description="the product's negative posts in the window before")
    negative_after: Share = Field(description="and after")
    negative_change: float | None = Field(default=None, description="after minus before, as a share")
    negative_change_low: float | None = Field(default=None, description="95% interval of the change (Newcombe)")
    negative_change_high: float | None = None
    updated_at: AwareDatetime = Field(default_factory=utcnow)
