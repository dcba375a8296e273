"""Who reported a feedback item: its posts, each with its link, its author and the versions it names.

The community team answers each reporter ("fixed in 1.0.8"). The rows are the posts of the
posts index whose ``item_id`` is the item's, read with the export's paging and writers
(``queries.export``). A post deleted by ``canyu index forget-author`` is gone from the index,
so its author is never listed.
"""

from __future__ import annotations

from canyu.filters import Filters
from queries.search import build_query

FORMATS = ("csv", "jsonl")
COLUMNS = ["post_id", "url", "source", "language", "created_at", "author_id", "author_name", "versions", "text"]
TEXT_CHARS = 200  # enough to recognise the report; the link leads to the whole of it


def reporters_query(item_id: str) -> dict:
    return build_query("*", Filters(item=[item_id]))


def shortened(text: str, chars: int = TEXT_CHARS) -> str:
    """``text`` on one line, cut to ``chars`` characters with an ellipsis where it was cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def reporter(post: dict) -> dict:
    """One row, from a post's ``_source``."""
    author = post.get("author") or {}
    return {
        "post_id": post["id"],
        "url": post.get("url"),
        "source": post["source"],
        "language": post.get("language"),
        "created_at": post["created_at"],
        "author_id": author.get("id"),
        "author_name": author.get("name"),
        "versions": [mention["tag"] for mention in post.get("versions") or []],
        "text": shortened(post.get("text") or ""),
    }
