"""RSS 2.0 and Atom feeds, Discuz! forum feeds (``forum.php?mod=rss&fid=N``) among them.

A feed is a window on its latest items, so there are no pages: every poll reads the
whole feed (a conditional GET when the server allows), and the cursor's recent ids skip
the items already published. Discuz! items have no guid; they are keyed on the thread
id (``tid``) in their link. An empty feed is never "nothing new": Discuz! serves one
while it rebuilds its cache, so the source tries again later.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import feedparser

from canyu.schema import Author, Post
from canyu_runtime.errors import RetryLater
from producers.base import BadPayload, Page, Record, Source, UrlSourceConfig
from producers.html import html_text

DISCUZ_THREAD = re.compile(r"[?&]tid=(\d+)|/thread-(\d+)-")  # forum.php?mod=viewthread&tid=N, or thread-N-1-1.html
UNKNOWN_AUTHOR = "unknown"  # many feeds name no author; a Post must have one


class RssConfig(UrlSourceConfig):
    kind: Literal["rss"] = "rss"


def native_id(entry: dict) -> str:
    if entry.get("id"):
        return entry["id"]
    match = DISCUZ_THREAD.search(entry.get("link") or "")
    if match:
        return next(group for group in match.groups() if group)
    if entry.get("link"):
        return entry["link"]
    raise KeyError("guid")


def published(entry: dict) -> datetime:
    value = entry.get("published") or entry.get("updated")
    if not value:
        raise KeyError("pubDate")
    try:
        when = parsedate_to_datetime(value)  # RSS: RFC 822
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(value)  # Atom: RFC 3339
        except ValueError:
            raise ValueError(f"date {value!r} is neither RFC 822 nor ISO 8601") from None
    if when.tzinfo is None:
        raise ValueError(f"date {value!r} has no timezone")
    return when


class RssSource(Source):
    kind = "rss"
    config: RssConfig

    def records(self, body: bytes, content_type: str | None = None) -> list[Record]:
        # The HTTP charset, when there is one, overrides the XML declaration (as for GB2312 Discuz! feeds).
        feed = feedparser.parse(body, response_headers={"content-type": content_type} if content_type else None)
        if feed.bozo and not feed.entries:
            raise BadPayload(body, f"not a feed: {feed.bozo_exception}")
        return [Record(json.dumps(entry, ensure_ascii=False, default=str).encode(), entry) for entry in feed.entries]

    def fetch(self, position: dict) -> Page:
        response = self.http.get(str(self.config.url), conditional=True)
        if response is None:
            return Page([], position)
        records = self.records(response.content, response.headers.get("content-type"))
        if not records:
            raise RetryLater("the feed is empty (Discuz! serves an empty feed while it rebuilds its cache)")
        return Page(records, position)

    def map_item(self, entry: dict) -> Post:
        body = (entry.get("content") or [{}])[0].get("value") or entry.get("summary")
        author = entry.get("author")
        return Post(
            id=Post.make_id(self.name, native_id(entry)),
            source=self.name,
            url=entry.get("link"),
            title=entry.get("title"),
            text=html_text(body) if body else entry["title"],
            created_at=published(entry),
            author=Author(id=author or UNKNOWN_AUTHOR, name=author),
        )
