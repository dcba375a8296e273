"""Reddit-style JSON listings: ``data.children[]`` of kind ``t3`` (posts) and ``t1`` (comments).

A listing such as ``/r/{name}/new.json`` is newest first and pages back with ``after``
(the fullname of the last child). Posts are known by their fullname (``t3_abc``), which
is also how a comment names its parent.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import Field

from canyu.schema import Author, Engagement, Post
from producers.base import BadPayload, PagedSource, UrlSourceConfig, parse_json

SITE = "https://www.reddit.com"
TEXT_FIELD = {"t3": "selftext", "t1": "body"}


def created_utc(data: dict) -> float:
    """Seconds since the epoch, a number that names a date (a JSON ``Infinity`` or ``NaN``, or
    1e300, is no time)."""
    value = float(data["created_utc"])
    try:
        datetime.fromtimestamp(value, timezone.utc)  # NaN, infinity, past year 9999 all raise
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"created_utc {data['created_utc']!r} is not a time") from None
    return value


class RedditConfig(UrlSourceConfig):
    kind: Literal["reddit"] = "reddit"
    limit: int = Field(100, ge=1, le=100, description="children per page (the API allows at most 100)")


class RedditSource(PagedSource):
    kind = "reddit"
    config: RedditConfig

    token_header = ("Authorization", "bearer {}")

    def request(self, token: str | None, high: str | None) -> bytes | None:
        # raw_json=1: the text as written, without Reddit's legacy &amp; &lt; &gt; escaping.
        params = {"limit": self.config.limit, "after": token, "raw_json": 1}
        return self.get_page(str(self.config.url), params, token)

    def items(self, body: bytes) -> tuple[list[dict], str | None]:
        data = parse_json(body)
        listing = data.get("data") if isinstance(data, dict) and data.get("kind") == "Listing" else None
        if not isinstance(listing, dict) or not isinstance(listing.get("children"), list):
            raise BadPayload(body, "a Reddit listing has kind 'Listing' and 'data.children'")
        return listing["children"], listing.get("after")

    def order(self, item: dict) -> int:
        return int(created_utc(item["data"]))

    def order_time(self, item: dict) -> datetime:
        return datetime.fromtimestamp(created_utc(item["data"]), timezone.utc)

    def map_item(self, child: dict) -> Post:
        kind, data = child["kind"], child["data"]
        if kind not in TEXT_FIELD:
            raise ValueError(f"kind {kind!r} is neither a post (t3) nor a comment (t1)")
        parent = data.get("parent_id") if kind == "t1" else None
        return Post(
            id=Post.make_id(self.name, data["name"]),
            source=self.name,
            url=f"{SITE}{data['permalink']}" if data.get("permalink") else None,
            title=data.get("title"),
            text=data[TEXT_FIELD[kind]],
            created_at=datetime.fromtimestamp(created_utc(data), timezone.utc),
            author=Author(id=data.get("author_fullname") or data["author"], name=data["author"]),
            engagement=Engagement(
                likes=data.get("ups"), reposts=data.get("num_crossposts"), comments=data.get("num_comments")
            ),
            parent_id=Post.make_id(self.name, parent) if parent else None,
        )
