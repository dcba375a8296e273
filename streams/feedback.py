"""Feedback items: bug reports and feature requests about the same thing, grouped.

A post joins the most similar open item of its group (same intent, product and
topic) when the similarity reaches a threshold, or opens a new item. Similarity is
the cosine between the post's text features and the item's running feature
profile, so an item drifts with the words its reporters actually use.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import itemgetter

from canyu.schema import EnrichedPost
from streams.recent import OpenItem, cosine, norm
from streams.simhash import features

GROUPED_INTENTS = ("bug_report", "feature_request")
PROFILE_SIZE = 200
SAMPLES = 5
SAMPLE_CHARS = 280
# An item's state is rewritten on every post it gets, so it is capped: the first AUTHORS
# distinct authors are listed (past them, an author it no longer lists counts as new, so the
# figure is an estimate), and the trend keeps the last TREND_DAYS days.
AUTHORS = 200
TREND_DAYS = 60


def group_of(post: EnrichedPost) -> str | None:
    """The group a post's item lives in, or None when the post is not feedback."""
    if post.intent.label not in GROUPED_INTENTS:
        return None
    product = post.products[0] if post.products else "-"
    topic = post.topics[0].id if post.topics else "-"
    return f"{post.intent.label}|{product}|{topic}"


@dataclass
class ItemState:
    """What a feedback item remembers; stored as a plain dict in a Faust table."""

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
    trend: dict[str, int]

    @classmethod
    def open(cls, post: EnrichedPost, group: str) -> ItemState:
        digest = hashlib.sha1(f"{group}|{post.id}".encode()).hexdigest()[:12]
        created = post.created_at.isoformat()
        return cls(f"item-{digest}", group, {}, [], "", 0, [], 0, created, created, {})

    def add(self, post: EnrichedPost, feats: Counter) -> None:
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
        day = post.created_at.date().isoformat()
        self.trend[day] = self.trend.get(day, 0) + 1
        if len(self.trend) > TREND_DAYS:
            self.trend = dict(sorted(self.trend.items())[-TREND_DAYS:])
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


def choose(feats: Counter, candidates: list[tuple[str, OpenItem]], threshold: float) -> str | None:
    """The id of the open item most similar to the post, when it is similar enough to join."""
    length = norm(feats)
    scored = [(item.cosine(feats, length), item_id) for item_id, item in candidates]
    best = max(scored, default=None)
    return best[1] if best and best[0] >= threshold else None
