"""An item's reporters streamed from the index as CSV and JSONL: what the dashboard's download writes."""

from __future__ import annotations

import csv
import io
import json

from canyu.settings import Settings
from canyu_runtime.reporters import COLUMNS, as_csv, as_jsonl, reporters
from queries.export import open_writer


class PagedEs:
    """A point-in-time search over fixed hits, a page at a time, that records the query it was asked."""

    def __init__(self, sources: list[dict]):
        self.sources = sources
        self.queries: list[dict] = []

    def open_point_in_time(self, index, keep_alive):
        self.index = index
        return {"id": "pit"}

    def search(self, pit, query, size, sort, search_after, source, track_total_hits):
        self.queries.append(query)
        start = search_after[0] if search_after else 0
        page = self.sources[start : start + size]
        hits = [{"_source": s, "sort": [start + i + 1]} for i, s in enumerate(page)]
        return {"pit_id": "pit", "hits": {"hits": hits}}

    def close_point_in_time(self, id):
        pass


def post(n: int, **extra) -> dict:
    return {"id": f"forum:{n}", "source": "forum", "url": f"https://forum.example/{n}", "language": "zh",
            "created_at": "2026-11-15T08:00:00+00:00", "author": {"id": f"u{n}", "name": f"用户{n}"},
            "text": f"升级后第{n}天\n还是断连", **extra}  # fmt: skip


def test_every_post_of_the_item_is_a_row_across_pages():
    es = PagedEs([post(1), post(2), post(3, url=None)])
    rows = list(reporters(es, Settings(namespace="u."), "item-1", page_size=2))

    assert es.index == "u.posts" and {"terms": {"item_id": ["item-1"]}} in es.queries[0]["bool"]["filter"]
    assert [r["post_id"] for r in rows] == ["forum:1", "forum:2", "forum:3"]
    assert rows[1]["text"] == "升级后第2天 还是断连" and rows[2]["url"] is None


def test_the_downloads_csv_is_the_exports_csv_with_formulas_defused():
    rows = list(reporters(PagedEs([post(1, author={"id": "u1", "name": '=HYPERLINK("http://evil")'},
                                       versions=[{"line": "hyperos", "version": "1.0.7.0", "tag": "hyperos 1.0.7.0"},
                                                 {"line": "app", "version": "3.2.1", "tag": "app 3.2.1"}]),
                                  post(2)]), Settings(), "i"))  # fmt: skip
    streamed = "".join(as_csv(rows))
    written = io.StringIO()
    writer, _ = open_writer("csv", None, written, COLUMNS)  # what canyu item reporters writes
    writer.write(rows)
    assert streamed == written.getvalue()

    table = list(csv.DictReader(io.StringIO(streamed)))
    assert table[0]["author_name"] == '\'=HYPERLINK("http://evil")'
    assert table[0]["versions"] == "hyperos 1.0.7.0;app 3.2.1" and table[1]["versions"] == ""


def test_the_downloads_jsonl_is_the_exports_jsonl():
    rows = list(reporters(PagedEs([post(1), post(2)]), Settings(), "i"))
    streamed = "".join(as_jsonl(rows))
    written = io.StringIO()
    open_writer("jsonl", None, written)[0].write(rows)
    assert streamed == written.getvalue() and "用户1" in streamed
    assert list(json.loads(streamed.splitlines()[1])) == COLUMNS
