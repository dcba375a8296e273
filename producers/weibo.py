"""Weibo open API timelines (``statuses``): newest first, paged with ``since_id`` and ``max_id``.

Ids are 64-bit numbers, past what a float holds exactly: they are read from ``idstr``
when the status has it, and kept as strings everywhere. A repost carries its original
in ``retweeted_status``; both become posts, linked by ``repost_of``.

A long status (``isLongText``) comes in the timeline cut short, usually without
``longText.longTextContent``; its full text is fetched from ``statuses/show.json?id=…&isGetLongText=1``
through the source's own HTTP client. If that fails, the post keeps its short text (and a warning
says so): a post is never lost for want of its tail.
"""

from __future__ import annotations

import logging
from datetime import datetime
from html import unescape
from typing import Literal
from urllib.parse import urljoin

from pydantic import Field, HttpUrl

from canyu.schema import Author, Engagement, Post
from producers.base import BadPayload, IdMarkedConfig, PagedSource, parse_json
from producers.http import FetchError

log = logging.getLogger(__name__)

CREATED_AT_FORMAT = "%a %b %d %H:%M:%S %z %Y"  # "Tue May 31 17:46:55 +0800 2011"


class WeiboConfig(IdMarkedConfig):
    kind: Literal["weibo"] = "weibo"
    count: int = Field(100, ge=1, le=200, description="statuses per page (the API allows at most 200)")
    long_text: bool = Field(True, description="fetch the full text of long statuses from statuses/show.json")
    show_url: HttpUrl | None = Field(None, description="statuses/show.json; by default the one beside url")


def status_id(status: dict) -> str:
    native = status.get("idstr") or status.get("mid") or status["id"]
    return str(native)


def long_text(status: dict) -> str | None:
    found = status.get("longText")
    return found.get("longTextContent") if isinstance(found, dict) else None


def created_at(value: str) -> datetime:
    try:
        return datetime.strptime(value, CREATED_AT_FORMAT)
    except (TypeError, ValueError):
        raise ValueError(f"created_at {value!r} is not like 'Tue May 31 17:46:55 +0800 2011'") from None


class WeiboSource(PagedSource):
    kind = "weibo"
    config: WeiboConfig

    token_header = ("Authorization", "OAuth2 {}")
    id_shape = (1, 2**63 - 1)  # a positive 64-bit integer

    def request(self, token: str | None, high: str | None) -> bytes | None:
        # max_id is inclusive; the token is already one below the oldest status of the last page.
        params = {"count": self.config.count, "since_id": high, "max_id": token}
        return self.get_page(str(self.config.url), params, token)

    def items(self, body: bytes) -> tuple[list[dict], str | None]:
        data = parse_json(body)
        if not isinstance(data, dict) or not isinstance(data.get("statuses"), list):
            raise BadPayload(body, "a Weibo timeline has a 'statuses' list")
        statuses = data["statuses"]
        ids = [key for key in map(self._order_or_none, statuses) if key is not None]
        return statuses, (str(min(ids) - 1) if ids else None)

    def order(self, item: dict) -> int:
        return int(status_id(item))

    def expand(self, item: dict) -> list[dict]:
        original = item.get("retweeted_status")
        return [original, item] if isinstance(original, dict) else [item]

    def complete(self, status: dict) -> dict:
        if not (self.config.long_text and status.get("isLongText")) or long_text(status):
            return status
        show_url = str(self.config.show_url or urljoin(str(self.config.url), "show.json"))
        try:
            native = status_id(status)
        except KeyError:
            return status  # no id to ask for: the runner dead-letters it
        try:
            response = self.http.get(show_url, {"id": native, "isGetLongText": 1})
            full = parse_json(response.content)
            text = long_text(full) if isinstance(full, dict) else None
            if not isinstance(text, str) or not text:
                raise BadPayload(response.content, "no longText.longTextContent in the answer")
        except (FetchError, BadPayload) as e:
            log.warning("%s: status %s keeps its short text; its long text could not be read: %s", self.name, native, e)
            return status
        return {**status, "longText": {**(status.get("longText") or {}), "longTextContent": text}}

    def map_item(self, status: dict) -> Post:
        user = status["user"]
        author_id = str(user.get("idstr") or user["id"])
        original = status.get("retweeted_status")
        return Post(
            id=Post.make_id(self.name, status_id(status)),
            source=self.name,
            url=f"https://weibo.com/{author_id}/{status_id(status)}",
            text=unescape(long_text(status) or status["text"]),
            created_at=created_at(status["created_at"]),
            author=Author(
                id=author_id,
                name=user.get("screen_name"),
                followers=user.get("followers_count"),
                verified=user.get("verified"),
            ),
            engagement=Engagement(
                likes=status.get("attitudes_count"),
                reposts=status.get("reposts_count"),
                comments=status.get("comments_count"),
            ),
            repost_of=Post.make_id(self.name, status_id(original)) if isinstance(original, dict) else None,
        )
