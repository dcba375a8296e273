"""forget-author's read-modify-write rounds against a document that the sink keeps changing, without a server."""

from __future__ import annotations

import pytest

from sinks.retention import _rewrite, _scrub_alert


class ChangingIndex:
    """One alert that cites the forgotten post; the sink changes it between our read and our write ``changes`` times
    (each of those writes is a version conflict)."""

    def __init__(self, changes: int):
        self.changes = changes
        self.writes = 0
        self.searched = False

    def open_point_in_time(self, index, keep_alive):
        return {"id": "pit"}

    def close_point_in_time(self, id):
        pass

    def search(self, **request):
        hits, self.searched = ([] if self.searched else [{"_index": "t.alerts", "_id": "a-1", "sort": [1]}]), True
        return {"pit_id": "pit", "hits": {"hits": hits}}

    def mget(self, docs):
        alert = {"sample_post_ids": ["weibo:1", "weibo:2"], "samples": ["gone", "kept"]}
        return {"docs": [{"found": True, "_index": "t.alerts", "_id": "a-1", "_version": 7, "_source": alert}]}

    def bulk(self, operations):
        self.writes += 1
        assert operations[0]["index"]["version"] == 8 and operations[1]["sample_post_ids"] == ["weibo:2"]
        status = 409 if self.writes <= self.changes else 200
        return {"items": [{"index": {"_index": "t.alerts", "_id": "a-1", "status": status}}]}


def scrub(alert: dict) -> dict | None:
    return _scrub_alert(alert, gone={"weibo:1": "gone"})


def test_a_document_changed_meanwhile_is_read_and_scrubbed_again_after_a_backoff():
    es, waits, scrubbed = ChangingIndex(changes=2), [], set()
    _rewrite(es, "t.alerts", {"match_all": {}}, scrub, scrubbed, sleep=waits.append)
    assert scrubbed == {"a-1"} and es.writes == 3
    assert len(waits) == 2 and all(0 < wait <= 1.0 for wait in waits)  # two backoffs, not rounds back to back


def test_one_that_keeps_changing_is_given_up_after_five_rounds_with_what_to_do():
    es, waits, scrubbed = ChangingIndex(changes=100), [], set()
    with pytest.raises(RuntimeError, match="t.alerts: a-1 kept changing; run forget-author again"):
        _rewrite(es, "t.alerts", {"match_all": {}}, scrub, scrubbed, sleep=waits.append)
    assert es.writes == 5 and len(waits) == 4 and scrubbed == set()
