"""Who reported a feedback item: its posts, each with its link, its author and the versions it names.

The community team answers each reporter ("fixed in 1.0.8"). The rows are the posts of the
posts index whose ``item_id`` is the item's. ``canyu item reporters`` writes them with the
export's writers (``queries.reporters``); the dashboard's download streams them from here,
a page at a time (``canyu_runtime.elastic.pages``), so memory stays flat whatever the item's
size, and its CSV cells go through ``canyu.csv_cells`` like the export's. A post deleted by
``canyu index forget-author`` is gone from the index, so its author is never listed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from elasticsearch import Elasticsearch

from canyu.csv_cells import QUOTING, csv_cell
from canyu.filters import Filters
from canyu.settings import Settings
from canyu_runtime.elastic import pages

FORMATS = ("csv", "jsonl")
COLUMNS = ["post_id", "url", "source", "language", "created_at", "author_id", "author_name", "versions", "text"]
TEXT_CHARS = 200  # enough to recognise the report; the link leads to the whole of it


def reporters_query(item_id: str) -> dict:
    return {"bool": {"filter": Filters(item=[item_id]).post_clauses()}}


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


def reporters(es: Elasticsearch, settings: Settings, item_id: str, page_size: int = 500) -> Iterator[dict]:
    """Every row of the item, in the index's order (no sort: a large item streams as it is read)."""
    for hits in pages(es, settings.posts_alias, reporters_query(item_id), size=page_size):
        yield from (reporter(hit["_source"]) for hit in hits)


def as_jsonl(rows: Iterable[dict]) -> Iterator[str]:
    """One JSON object per line, text as written (not escaped to ASCII), as the export's JSONL."""
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def as_csv(rows: Iterable[dict]) -> Iterator[str]:
    """A header, then one line per report; list cells are joined, formula-like text is defused, text is quoted."""
    yield _line(COLUMNS)
    for row in rows:
        yield _line([csv_cell(row[column]) for column in COLUMNS], QUOTING)


def _line(cells: list, quoting: int = csv.QUOTE_MINIMAL) -> str:
    out = io.StringIO()
    csv.writer(out, quoting=quoting).writerow(cells)
    return out.getvalue()
