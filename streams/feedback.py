"""Feedback items: bug reports and feature requests about the same thing, grouped.

A post joins the most similar open item of its group when the similarity reaches a
threshold, or opens a new item.

- A post with a multilingual sentence vector (the one the classifier already computed,
  carried from ``enrich``) is compared with every open item of all feedback
  (``VECTOR_GROUP``): the cosine between its vector and the mean vector of the item's
  posts, both taken around their language's centre (:class:`streams.recent.Centres`), so
  the same bug reported in Chinese, Korean and English joins one item. The classifier's
  labels do not narrow it down: across languages, a report's first product, first topic
  and even bug-or-request often differ. The item's intent, product and topic are then the
  most common among its posts. The text features (the item's running feature profile)
  break near ties.
- A post without one (a classifier backend that has none) is compared by its text
  features alone, with the open items of its (intent, first product, first topic): words
  cannot tell across languages anyway, and the narrow group keeps the comparisons few.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from operator import itemgetter

import numpy as np

from canyu.schema import EnrichedPost
from models import ResolutionCues
from streams.recent import OpenItem, cosine, norm, pack_vector, unpack_vector
from streams.simhash import features

GROUPED_INTENTS = ("bug_report", "feature_request")
VECTOR_GROUP = "feedback"  # the one group of every item whose posts have a sentence vector
PROFILE_SIZE = 200
SAMPLES = 5
SAMPLE_CHARS = 280
# An item's state is rewritten on every post it gets, so it is capped: the first AUTHORS
# distinct authors are listed (past them, an author it no longer lists counts as new, so the
# figure is an estimate), and the trend and the reports per day keep the last TREND_DAYS days.
AUTHORS = 200
TREND_DAYS = 60
VERSIONS = 20  # version tags an item counts, the most named kept
PRODUCTS = 10  # products and software lines its posts name, the most named kept
TOPICS = 10  # its posts' first topics, the most common kept
RECENT = 5  # its newest reports, kept as evidence for release impacts and fix checks
# Two candidates whose vectors are this close to a post are a tie, which the text features break.
TIE = 0.02


def is_feedback(post: EnrichedPost) -> bool:
    """Whether the post joins a feedback item."""
    return post.intent.label in GROUPED_INTENTS


def group_of(post: EnrichedPost, has_vector: bool) -> str | None:
    """The group a post's item lives in, or None when the post is not feedback."""
    if not is_feedback(post):
        return None
    if has_vector:
        return VECTOR_GROUP
    product = post.products[0] if post.products else "-"
    topic = post.topics[0].id if post.topics else "-"
    return f"{post.intent.label}|{product}|{topic}"


@dataclass
class ItemState:
    """What a feedback item remembers; stored as a dict of these fields in a Faust table.

    Compatibility: a stored item lacks the fields added after it was written, which then take
    their defaults here; a field is never renamed or given another meaning.
    """

    id: str
    group: str
    profile: dict[str, float]
    samples: list[tuple[str, str]]  # (post id, text), at most SAMPLES
    title: str
    count: int
    authors: list[str]  # at most AUTHORS
    unique_authors: int
    first_seen: str
    last_seen: str
    trend: dict[str, int]  # posts per UTC day of their event time
    languages: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)  # "<line> <version>" → posts naming it
    products: dict[str, int] = field(default_factory=dict)  # products and software lines named → posts
    recent: list[list] = field(default_factory=list)  # newest reports: [post id, text, event time, language, [tags]]
    vector: str | None = None  # base64 of pack_vector: the mean of its posts' sentence vectors
    vectors: int = 0  # posts in that mean
    lifecycle: dict | None = None  # the ItemLifecycle (JSON fields) engineers gave it, as last applied
    fix_failed: list | None = None  # [fixed_in, event time, offset]: when the stream saw the fix fail
    intents: dict[str, int] = field(default_factory=dict)  # its posts' intents → posts
    topics: dict[str, int] = field(default_factory=dict)  # its posts' first topics → posts
    # What the fix watch counts as reports: the posts that ``is_report``. "1.0.7.0 fixed it!" joins
    # the item it is about (and the classifier may call it a bug report), but says the fix held.
    # Version tags as in ``versions``, and the newest such post's time (None: none yet).
    # An item stored before these were kept has None for both, and every post counts.
    reported_versions: dict[str, int] | None = None
    last_report: str | None = None
    # Reports per UTC day, as ``trend`` counts posts: what a release's impact judges on, so an item
    # does not regress or persist on posts saying the bug is gone. None: stored before it was kept,
    # and ``trend`` stands for it.
    reported_trend: dict[str, int] | None = None

    @classmethod
    def open(cls, post: EnrichedPost, group: str) -> ItemState:
        digest = hashlib.sha1(f"{group}|{post.id}".encode()).hexdigest()[:12]
        created = post.created_at.isoformat()
        return cls(
            f"item-{digest}", group, {}, [], "", 0, [], 0, created, created, {}, reported_versions={}, reported_trend={}
        )

    def mean_vector(self) -> np.ndarray | None:
        return unpack_vector(base64.b64decode(self.vector)) if self.vector else None

    def reports(self) -> tuple[dict[str, int], str | None]:
        """(the version tags its reports name, when the newest report came): see ``reported_versions``."""
        if self.reported_versions is None:  # stored before they were kept
            return self.versions, self.last_seen
        return self.reported_versions, self.last_report

    def reports_per_day(self) -> dict[str, int]:
        """Its reports per UTC day (``reported_trend``); its posts per day when stored before they were kept."""
        return self.trend if self.reported_trend is None else self.reported_trend

    def labels(self) -> tuple[str, str | None, str | None]:
        """(intent, product, topic): its group's, which its posts all share, or, in the group of
        all feedback with a vector, the most common among its posts (the first named wins a tie)."""
        parts = self.group.split("|")
        if len(parts) == 3:
            intent, product, topic = parts
            return intent, None if product == "-" else product, None if topic == "-" else topic
        return _most(self.intents) or GROUPED_INTENTS[0], _most(self.products), _most(self.topics)

    def add(self, post: EnrichedPost, feats: Counter, at: float, vector: np.ndarray | None = None) -> None:
        """``at``: the post's event time; ``vector``: its sentence vector, when the classifier gave one."""
        merged = Counter(self.profile)
        merged.update(feats)
        # What most_common(PROFILE_SIZE) returns, without the heap it walks in Python.
        self.profile = dict(sorted(merged.items(), key=itemgetter(1), reverse=True)[:PROFILE_SIZE])
        self.count += 1
        if post.author.id not in self.authors:
            self.unique_authors += 1
            if len(self.authors) < AUTHORS:
                self.authors.append(post.author.id)
        created = post.created_at.isoformat()
        self.first_seen = min(self.first_seen, created, key=datetime.fromisoformat)
        self.last_seen = max(self.last_seen, created, key=datetime.fromisoformat)
        day = utc_day(at)
        self.trend = _count_day(self.trend, day)
        self.languages[post.language] = self.languages.get(post.language, 0) + 1
        _tally(self.intents, [post.intent.label], len(GROUPED_INTENTS))
        _tally(self.topics, [post.topics[0].id] if post.topics else [], TOPICS)
        tags = [m.tag for m in post.versions]
        _tally(self.versions, tags, VERSIONS)
        if is_report(post):
            if self.reported_versions is not None:
                _tally(self.reported_versions, tags, VERSIONS)
            if self.reported_trend is not None:
                self.reported_trend = _count_day(self.reported_trend, day)
            self.last_report = max(self.last_report or created, created, key=datetime.fromisoformat)
            self.recent = [*self.recent, [post.id, post.full_text[:SAMPLE_CHARS], at, post.language, tags]][-RECENT:]
        _tally(self.products, named_products(post), PRODUCTS)
        if vector is not None:
            mean = self.mean_vector()
            mean = vector if mean is None else mean + (vector - mean) / (self.vectors + 1)
            self.vector = base64.b64encode(pack_vector(mean)).decode("ascii")
            self.vectors += 1
        if len(self.samples) < SAMPLES:
            self.samples.append((post.id, post.full_text[:SAMPLE_CHARS]))
        if len(self.samples) < SAMPLES or self.count % SAMPLES == 0:
            # The title is the sample closest to what the whole item is about. Once the samples
            # are all in, the profile drifts slowly: looking again every few posts is enough.
            self.title = max(self.samples, key=lambda s: cosine(_sample_features(s[1]), self.profile))[1]


@lru_cache(maxsize=SAMPLES * 1024)
def _sample_features(text: str) -> Counter:
    """A sample's features, for its item's title: an item weighs the same five samples again every
    five posts. Shared: callers must not change it."""
    return Counter(features(text))


@lru_cache(maxsize=1)
def _resolution() -> ResolutionCues:
    return ResolutionCues.load()


def is_report(post: EnrichedPost) -> bool:
    """Whether the post counts as a report of its item's problem: it neither reads positive nor says
    the problem is gone ("1.0.7.1 is out and fixed it", ``models.ResolutionCues``). The classifier's
    sentiment alone misses many of the second kind, and calls many reports positive."""
    return post.sentiment.label != "positive" and not _resolution().says_resolved(post.full_text)


def utc_day(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).date().isoformat()


def named_products(post: EnrichedPost) -> list[str]:
    """The products and software lines a post is about: the catalogue's, and those its versions name."""
    named = dict.fromkeys(post.products)
    for mention in post.versions:
        if mention.line != "app":
            named[mention.line] = None
        if mention.product:
            named[mention.product] = None
    return list(named)


def _count_day(per_day: dict[str, int], day: str) -> dict[str, int]:
    """``per_day`` with one more on ``day``, the last TREND_DAYS days kept."""
    per_day[day] = per_day.get(day, 0) + 1
    if len(per_day) > TREND_DAYS:
        return dict(sorted(per_day.items())[-TREND_DAYS:])
    return per_day


def _most(counts: dict[str, int]) -> str | None:
    return max(counts, key=counts.__getitem__) if counts else None


def _tally(counts: dict[str, int], keys: list[str], cap: int) -> None:
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    if len(counts) > cap:  # the most named stay; a rare one may come back and count from one again
        kept = sorted(counts.items(), key=itemgetter(1), reverse=True)[:cap]
        counts.clear()
        counts.update(kept)


def choose(feats: Counter, candidates: list[tuple[str, OpenItem]], threshold: float) -> str | None:
    """By text features alone: the id of the open item most similar to the post, when its
    cosine reaches ``threshold``."""
    length = norm(feats)
    scored = [(item.cosine(feats, length), item_id) for item_id, item in candidates]
    best = max(scored, default=None)
    return best[1] if best and best[0] >= threshold else None


def pick(feats: Counter, near: list[tuple[float, str, OpenItem]]) -> str | None:
    """Of the open items close enough by sentence vector (``Recent.nearest``), the closest; the
    text features choose among those within ``TIE`` of it."""
    if not near:
        return None
    best = max(similarity for similarity, _, _ in near)
    length = norm(feats)
    tied = [(item.cosine(feats, length), item_id) for similarity, item_id, item in near if similarity >= best - TIE]
    return max(tied)[1]
