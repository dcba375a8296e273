"""RSS 2.0 and Atom feeds, Discuz! forum feeds (``forum.php?mod=rss&fid=N``) among them.

A feed is a window on its latest items, so there are no pages: every poll reads the
whole feed (a conditional GET when the server allows), and the cursor's recent ids skip
the items already published. Discuz! items have no guid; they are keyed on the thread
id (``tid``) in their link. An empty feed is never "nothing new": Discuz! serves one
while it rebuilds its cache, so the source tries again later.

A feed's bytes decide its encoding when they are UTF-8, whatever it declares; bytes that no
declared encoding reads are set aside (a dead letter), never published garbled.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone, tzinfo
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urljoin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import feedparser
from pydantic import Field, field_validator

from canyu.schema import Author, Post
from canyu_runtime.errors import RetryLater
from producers.base import BadPayload, Page, Record, Source, UrlSourceConfig
from producers.html import html_text

DISCUZ_THREAD = re.compile(r"[?&]tid=(\d+)|/thread-(\d+)-")  # forum.php?mod=viewthread&tid=N, or thread-N-1-1.html
RFC822_YEAR = re.compile(r"\b\d{1,2}\s+[A-Za-z]{3,9}\.?\s+(\d{3,})\b")  # "01 Jan 0001": the year, as written
UNKNOWN_AUTHOR = "unknown"  # many feeds name no author; a Post must have one
GUESSES = {"windows-1252", "iso-8859-2"}  # feedparser's last resorts, when no declared encoding reads the bytes
FEED_LANGUAGE = "canyu_feed_language"  # the feed's declared language, added to each entry it has
log = logging.getLogger(__name__)


ZONE_OF_LANGUAGE = {"zh": "Asia/Shanghai", "ko": "Asia/Seoul", "ja": "Asia/Tokyo"}  # by the feed's declared language


class RssConfig(UrlSourceConfig):
    kind: Literal["rss"] = "rss"
    timezone: str | None = Field(
        None,
        description="IANA zone for item dates that carry none (common on Chinese portals and Discuz!); "
        "by default from the feed's language (zh → Asia/Shanghai, ko → Asia/Seoul, ja → Asia/Tokyo), else UTC",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                ZoneInfo(name)
            except (ValueError, ZoneInfoNotFoundError):
                raise ValueError(f"{name!r} is not an IANA time zone such as Asia/Shanghai") from None
        return name


def zone_for(configured: str | None, language: str | None) -> tzinfo:
    """The configured zone, else the one the feed's language suggests (``zh-cn`` → Asia/Shanghai), else UTC."""
    if configured:
        return ZoneInfo(configured)
    primary = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return ZoneInfo(ZONE_OF_LANGUAGE[primary]) if primary in ZONE_OF_LANGUAGE else timezone.utc


def by_its_bytes(body: bytes, content_type: str | None) -> str | None:
    """The content type to read ``body`` with: with ``charset=utf-8`` when its bytes are UTF-8 (and not all ASCII),
    whatever the feed or the server declares, else as the server said.

    A portal that re-encodes its pages to UTF-8 but keeps ``encoding="gb2312"`` is common, and UTF-8 bytes read as
    GB18030 are valid, garbled Chinese ("电池" becomes "鐢垫睜"). Text in GB2312, GBK, Big5 or EUC-KR, the other
    way round, is practically never valid UTF-8, so valid UTF-8 is the bytes' own word."""
    if body.isascii():
        return content_type
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return content_type
    media_type = (content_type or "application/xml").split(";")[0].strip() or "application/xml"
    return f"{media_type}; charset=utf-8"


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
    """The entry's date, as the feed wrote it: without a timezone when the feed gave none.

    Not feedparser's ``published_parsed``: it turns every date into UTC, losing the offset
    the post was written in, and it reads a date without a timezone as UTC, where the
    source's ``timezone`` setting must decide. The standard library parses both forms."""
    value = entry.get("published") or entry.get("updated")
    if not value:
        raise KeyError("pubDate")
    if not isinstance(value, str):
        raise ValueError(f"date {value!r} is not text")
    try:
        when = parsedate_to_datetime(value)  # RSS: RFC 822
    except (TypeError, ValueError, IndexError):
        try:
            return datetime.fromisoformat(value.strip())  # Atom: RFC 3339; Discuz!: 2018-09-17 15:51:23
        except ValueError:
            raise ValueError(f"date {value!r} is neither RFC 822 nor ISO 8601") from None
    written = RFC822_YEAR.search(value)
    if written and int(written[1]) != when.year:  # the standard library reads 0001 as 2001, as it does 01
        try:
            return when.replace(year=int(written[1]))  # year 1: the sane window sets it aside, as any far date
        except ValueError:
            raise ValueError(f"date {value!r} has no valid year") from None
    return when


class RssSource(Source):
    kind = "rss"
    config: RssConfig
    _warned_zone = False  # the warning about dates without a timezone is given once per source

    def records(self, body: bytes, content_type: str | None = None) -> list[Record]:
        # The HTTP charset, when there is one, overrides the XML declaration (as for GB2312 Discuz! feeds), and
        # the bytes themselves override both when they are UTF-8 (``by_its_bytes``).
        content_type = by_its_bytes(body, content_type)
        feed = feedparser.parse(body, response_headers={"content-type": content_type} if content_type else None)
        if feed.bozo and not feed.entries:
            raise BadPayload(body, f"not a feed: {feed.bozo_exception}")
        if isinstance(feed.get("bozo_exception"), feedparser.CharacterEncodingOverride) and feed.encoding in GUESSES:
            raise BadPayload(body, f"the feed's bytes are in none of the encodings it declares ({feed.bozo_exception});"
                                   " set aside rather than published garbled")  # fmt: skip
        language = feed.feed.get("language") if isinstance(feed.feed.get("language"), str) else None
        entries = [{**entry, FEED_LANGUAGE: language} if language else entry for entry in feed.entries]
        return [Record(json.dumps(entry, ensure_ascii=False, default=str).encode(), entry) for entry in entries]

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
            url=self.link(entry),
            title=entry.get("title"),
            text=html_text(body) if body else entry["title"],
            created_at=self.created_at(entry),
            author=Author(id=author or UNKNOWN_AUTHOR, name=author),
        )

    def link(self, entry: dict) -> str | None:
        """The entry's link, a relative one (``thread-7-1-1.html``) made absolute on the feed's address; none when
        feedparser took it from a guid that is no URL (``<guid>52013</guid>``). The contract checks the rest."""
        link = entry.get("link")
        if not isinstance(link, str) or not link or (entry.get("guidislink") and not link.startswith("http")):
            return None
        return urljoin(str(self.config.url), link) if self.config.url else link

    def created_at(self, entry: dict) -> datetime:
        """The entry's date; one without a timezone is taken in the source's zone, with a warning (once)."""
        when = published(entry)
        if when.tzinfo is not None:
            return when
        language = entry.get(FEED_LANGUAGE)
        zone = zone_for(self.config.timezone, language if isinstance(language, str) else None)
        if not self._warned_zone:
            self._warned_zone = True
            log.warning("%s: item dates carry no timezone (e.g. %r); taking them in %s (the source's timezone setting)",
                        self.name, entry.get("published") or entry.get("updated"), zone)  # fmt: skip
        return when.replace(tzinfo=zone)
