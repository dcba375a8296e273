"""The dashboard without servers: filters, tokens, refusals, the spec, item changes, and the live feed's bookkeeping.

Elasticsearch is pointed at a closed port: everything here must answer before (or
without) a query, and a query that cannot reach it must say so with a 503.
"""

from __future__ import annotations

import gzip
import logging
import stat
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from canyu.filters import Filters
from canyu.lifecycle import InvalidChange
from canyu.schema import ItemLifecycle, ReleaseImpact, Share
from canyu.settings import Settings
from canyu_runtime import items, reporters
from canyu_runtime.private import without_credentials
from canyu_runtime.reporters import COLUMNS
from dashboard import reads
from dashboard.api import FilterParams, as_filters
from dashboard.app import create_app
from dashboard.auth import token_file, with_tokens
from dashboard.live import Feed
from dashboard.security import MaskTokens

READ, ADMIN = "r" * 24, "a" * 24


@pytest.fixture
def settings() -> Settings:
    return Settings(es_url="http://127.0.0.1:9", dashboard_token=READ, dashboard_admin_token=ADMIN, namespace="u.")


@pytest.fixture
def web(settings):
    with TestClient(create_app(settings)) as c:
        yield c


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_page_filters_become_terms_and_date_math_clauses() -> None:
    f = as_filters(FilterParams(since="7d", until="2026-11-20T08:00:00+08:00", source="forum", lang="zh",
                              topic="battery", product="phone-x1"))  # fmt: skip
    assert f.post_clauses() == [
        {"terms": {"source": ["forum"]}},
        {"terms": {"language": ["zh"]}},
        {"terms": {"topics.id": ["battery"]}},
        {"terms": {"products": ["phone-x1"]}},
        {"range": {"created_at": {"gte": "now-7d", "lte": "2026-11-20T00:00:00+00:00"}}},
    ]
    assert f.feedback_clauses() == [
        {"terms": {"topic": ["battery"]}},
        {"terms": {"product": ["phone-x1"]}},
        {"range": {"last_seen": {"gte": "now-7d", "lte": "2026-11-20T00:00:00+00:00"}}},
    ]
    assert Filters().post_clauses() == [] == Filters().feedback_clauses()


def test_a_minimum_confidence_splits_the_sentiment_counts_and_filters_no_posts() -> None:
    f = as_filters(FilterParams(min_confidence=0.7, source="forum"))
    assert f.min_confidence == 0.7
    assert f.post_clauses() == [{"terms": {"source": ["forum"]}}]  # the page has no label filter to narrow
    sure = {"range": {"sentiment.confidence": {"gte": 0.7}}}
    assert reads._by_sentiment(f) == {"sentiment": {
        "filters": {"filters": {"sure": sure, "unsure": {"bool": {"must_not": [sure]}}}},
        "aggs": {"label": {"terms": {"field": "sentiment.label", "size": 3}}},
    }}  # fmt: skip
    assert reads._by_sentiment(as_filters(FilterParams())) == {
        "sentiment": {"terms": {"field": "sentiment.label", "size": 3}}
    }


@pytest.mark.parametrize("value", ["1.5", "-0.1", "high", "nan", "inf"])
def test_a_bad_minimum_confidence_is_422_before_any_query(web, value) -> None:
    response = web.get("/api/summary", params={"min_confidence": value}, headers=bearer(READ))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "min_confidence"]


def test_unset_tokens_are_generated_once_kept_in_private_files_and_set_ones_kept(tmp_path) -> None:
    made = with_tokens(Settings(home=tmp_path, dashboard_token=READ))
    assert made.dashboard.token == READ
    assert made.dashboard.admin_token and made.dashboard.admin_token != READ
    assert with_tokens(Settings(home=tmp_path)).dashboard.admin_token == made.dashboard.admin_token  # a restart
    assert with_tokens(Settings(home=tmp_path / "elsewhere")).dashboard.token != with_tokens(
        Settings(home=tmp_path)).dashboard.token  # fmt: skip
    stored = token_file(Settings(home=tmp_path), "dashboard_admin_token")
    assert stored.read_text().strip() == made.dashboard.admin_token
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600 and stat.S_IMODE(stored.parent.stat().st_mode) == 0o700


def test_the_app_refuses_to_start_without_tokens() -> None:
    with pytest.raises(ValueError, match="tokens"):
        create_app(Settings(dashboard_token=READ))


@pytest.mark.parametrize(
    "path", ["/api/summary", "/api/top-posts", "/api/top-cascades", "/api/feedback", "/api/live", "/api/releases",
             "/api/access"]
)  # fmt: skip
def test_reads_are_refused_without_a_valid_token(web, path) -> None:
    for headers in ({}, bearer("wrong-token-wrong-token"), {"Authorization": f"Basic {READ}"}):
        response = web.get(path, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"


def test_subscriptions_refuse_the_read_token_with_403_and_no_token_with_401(web) -> None:
    assert web.get("/api/subscriptions").status_code == 401
    assert web.get("/api/subscriptions", headers=bearer(READ)).status_code == 403
    assert web.delete("/api/subscriptions/x", headers=bearer(READ)).status_code == 403


def test_bad_filters_are_422_before_any_query(web) -> None:
    response = web.get("/api/summary", params={"since": "forever"}, headers=bearer(READ))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "since"]


def test_an_unreachable_elasticsearch_is_a_503_that_says_where(web) -> None:
    for path in ("/health", "/api/summary"):
        response = web.get(path, headers=bearer(READ))
        assert response.status_code == 503
        assert "http://127.0.0.1:9" in response.json()["detail"]


def test_the_page_needs_the_token_once_then_keeps_it_in_a_cookie(web) -> None:
    assert web.get("/").status_code == 401
    page = web.get("/", params={"token": READ})
    assert page.status_code == 200
    assert "httponly" in page.headers["set-cookie"].lower()
    assert web.get("/").status_code == 200  # the cookie now
    assert '<script src="/vendor/chart.js/chart.umd.min.js"' in page.text
    assert web.get("/vendor/chart.js/chart.umd.min.js").headers["content-type"].startswith("text/javascript")
    assert web.get("/static/dashboard.js").status_code == 200


def test_the_openapi_spec_lists_the_api_with_bearer_auth(web) -> None:
    spec = web.get("/openapi.json").json()
    assert {"/health", "/api/summary", "/api/top-posts", "/api/top-cascades", "/api/feedback", "/api/live",
            "/api/releases", "/api/access", "/api/subscriptions", "/api/subscriptions/{subscription_id}",
            "/api/items/{item_id}/changes", "/api/items/{item_id}/reporters"} == set(spec["paths"])  # fmt: skip
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert {p["name"] for p in spec["paths"]["/api/summary"]["get"]["parameters"]} == {
        "since", "until", "source", "lang", "topic", "product", "version", "min_confidence"
    }  # fmt: skip


class FakeEs:
    """Answers each search with the documents newer than a range clause, newest first, like the real query."""

    def __init__(self, docs: list[dict]):
        self.docs = docs
        self.queries: list[dict] = []

    def search(self, index, query, sort, size, ignore_unavailable):
        self.queries.append(query)
        ranges = [c["range"]["enriched_at"]["gte"] for c in query["bool"]["filter"] if "range" in c]
        now = datetime.now(timezone.utc)
        floor = now - timedelta(seconds=int(ranges[0][4:-1])) if ranges else datetime.min.replace(tzinfo=timezone.utc)
        hits = [d for d in self.docs if datetime.fromisoformat(d["enriched_at"]) >= floor]
        hits.sort(key=lambda d: d["enriched_at"], reverse=True)
        return {"hits": {"hits": [{"_source": d} for d in hits[:size]]}}


def doc(doc_id: str, seconds_ago: float) -> dict:
    return {"id": doc_id, "enriched_at": (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).isoformat()}


def test_the_live_feed_sends_the_backlog_then_each_new_document_once() -> None:
    es = FakeEs([doc("old", 3600), doc("recent", 5)])
    feed = Feed("posts", "enriched_at", [{"term": {"source": "forum"}}])

    assert [d["id"] for d in feed.poll(es)] == ["old", "recent"]  # oldest first
    assert feed.poll(es) == []
    es.docs += [doc("late", 30), doc("new", 0)]  # "late" became searchable after "recent"
    assert [d["id"] for d in feed.poll(es)] == ["late", "new"]
    assert feed.poll(es) == []
    assert all({"term": {"source": "forum"}} in q["bool"]["filter"] for q in es.queries)
    assert {"range": {"enriched_at": {"gte": "now-60s"}}} in es.queries[-1]["bool"]["filter"]


def test_a_document_from_a_clock_ahead_does_not_hide_later_ones() -> None:
    es = FakeEs([doc("from-the-future", -3600)])
    feed = Feed("posts", "enriched_at", [])
    assert [d["id"] for d in feed.poll(es)] == ["from-the-future"]
    es.docs.append(doc("now", 0))
    assert [d["id"] for d in feed.poll(es)] == ["now"]


def test_every_response_carries_a_policy_that_runs_only_the_pages_own_scripts(web) -> None:
    for path in ("/", "/api/summary", "/openapi.json", "/static/dashboard.js"):
        policy = web.get(path, headers=bearer(READ)).headers["content-security-policy"]
        assert "script-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_a_token_in_an_address_never_reaches_the_access_log() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", f"/?since=7d&token={READ}", "1.1", 200), None)  # fmt: skip
    assert MaskTokens().filter(record)
    assert READ not in record.getMessage() and "token=***" in record.getMessage() and "since=7d" in record.getMessage()


def test_the_503_names_elasticsearch_without_its_credentials() -> None:
    settings = Settings(es_url="http://elastic:s3cret@127.0.0.1:9", dashboard_token=READ, dashboard_admin_token=ADMIN)
    with TestClient(create_app(settings)) as web:
        detail = web.get("/api/summary", headers=bearer(READ)).json()["detail"]
    assert "s3cret" not in detail and "http://127.0.0.1:9" in detail
    assert without_credentials("https://es.example:9243") == "https://es.example:9243"


@pytest.mark.parametrize(
    ("channel", "why"),
    [({"type": "webhook", "target": "http://hooks.example.com:99999/x"}, "port outside 1-65535"),
     ({"type": "email", "target": "team@example.com\r\nBcc: all@example.com"}, "control character")],
)  # fmt: skip
def test_a_subscription_with_a_bad_target_is_refused_with_a_clear_error(web, channel, why) -> None:
    body = {"id": "s-1", "name": "battery", "channel": channel}
    answer = web.post("/api/subscriptions", json=body, headers=bearer(ADMIN))
    assert answer.status_code == 422
    assert why in answer.text


def test_the_version_filter_takes_a_bare_version_or_a_line_and_version(web) -> None:
    assert as_filters(FilterParams(version="hyperos v1.0.7")).post_clauses() == [
        {"terms": {"versions.tag": ["hyperos 1.0.7", "hyperos 1.0.7.0", "hyperos 1.0.7.0.0"]}}
    ]
    (android,) = as_filters(FilterParams(version="android 14")).post_clauses()
    assert android["terms"]["versions.tag"][0] == "android 14.0"  # a major alone, after its line
    assert as_filters(FilterParams(version="3.2.1")).post_clauses() == [
        {"terms": {"versions.version": ["3.2.1", "3.2.1.0", "3.2.1.0.0"]}}
    ]
    for bad in ("latest", "hyperos  1.0.7", "1.0.7 hyperos", "7", "symbian 9.1", "HyperOS 1.0.7"):
        response = web.get("/api/summary", params={"version": bad}, headers=bearer(READ))
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["query", "version"]


def test_the_page_learns_whether_its_token_may_change_items(web) -> None:
    assert web.get("/api/access", headers=bearer(READ)).json() == {"admin": False}
    assert web.get("/api/access", headers=bearer(ADMIN)).json() == {"admin": True}


ITEM_ROUTES = [("post", "/api/items/item-1/changes", {"json": {"action": "ack"}}),
               ("get", "/api/items/item-1/reporters", {})]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body"), ITEM_ROUTES)
def test_item_routes_refuse_the_read_token_with_403_and_no_token_with_401(web, fake_change, method, path, body) -> None:
    assert getattr(web, method)(path, **body).status_code == 401
    refused = getattr(web, method)(path, headers=bearer(READ), **body)
    assert refused.status_code == 403 and "admin token" in refused.json()["detail"]
    assert fake_change.calls == []  # nothing reached the topic


class FakeChangeItem:
    """Stands in for canyu_runtime.items.change_item: records each call, or raises what it is told to."""

    def __init__(self):
        self.calls: list[tuple[str, object]] = []
        self.raises: Exception | None = None

    def __call__(self, settings, item_id, change, es=None):
        if self.raises:
            raise self.raises
        self.calls.append((item_id, change))
        return ItemLifecycle(item_id=item_id, state="fixed" if change.action == "fix" else "acknowledged",
                             fixed_in=change.version, history=[change])  # fmt: skip


@pytest.fixture
def fake_change(monkeypatch) -> FakeChangeItem:
    fake = FakeChangeItem()
    monkeypatch.setattr(items, "change_item", fake)
    return fake


def test_a_change_from_the_page_is_by_the_dashboard_with_its_version_normalised(web, fake_change) -> None:
    answer = web.post("/api/items/item-1/changes", json={"action": "fix", "version": "v1.0.8", "note": "in 1.0.8"},
                      headers=bearer(ADMIN))  # fmt: skip
    assert answer.status_code == 200
    assert answer.json()["state"] == "fixed" and answer.json()["fixed_in"] == "1.0.8"
    ((item_id, change),) = fake_change.calls
    assert item_id == "item-1" and change.action == "fix" and change.version == "1.0.8" and change.by == "dashboard"
    assert change.note == "in 1.0.8"


@pytest.mark.parametrize(
    ("raised", "status"),
    [(items.UnknownItem("item-1"), 404),
     (InvalidChange("item item-1 is open: 'reopen' applies to an item that is acknowledged or fixed or wontfix"), 409),
     (items.ForgottenItem("item-1"), 422)],
)  # fmt: skip
def test_a_refused_change_answers_its_sentence_with_the_matching_status(web, fake_change, raised, status) -> None:
    fake_change.raises = raised
    answer = web.post("/api/items/item-1/changes", json={"action": "reopen"}, headers=bearer(ADMIN))
    assert answer.status_code == status
    assert answer.json()["detail"] == str(raised)


@pytest.mark.parametrize(
    ("body", "why"),
    [({"action": "fix", "version": "latest"}, "is not a version"), ({"action": "verified"}, "action"),
     ({"action": "ack", "by": "someone else"}, "by"), ({"action": "ack", "note": "x" * 2001}, "note")],
)  # fmt: skip
def test_a_change_that_cannot_be_is_422_and_never_written(web, fake_change, body, why) -> None:
    answer = web.post("/api/items/item-1/changes", json=body, headers=bearer(ADMIN))
    assert answer.status_code == 422 and why in answer.text
    assert fake_change.calls == []


def test_an_item_id_that_cannot_be_one_is_refused_before_anything_runs(web, fake_change) -> None:
    assert web.post("/api/items/a%20b/changes", json={"action": "ack"}, headers=bearer(ADMIN)).status_code == 422
    assert web.get("/api/items/x%22y/reporters", headers=bearer(ADMIN)).status_code == 422
    assert fake_change.calls == []


def test_the_reporters_download_is_a_csv_file_named_after_the_item(web, monkeypatch) -> None:
    row = {"post_id": "forum:1", "url": "https://forum.example/1", "source": "forum", "language": "ko",
           "created_at": "2026-11-15T08:00:00Z", "author_id": "u1", "author_name": "=1+1",
           "versions": ["hyperos 1.0.7.0"], "text": "-1 star: 1.0.7.0 업데이트 후 끊겨요"}  # fmt: skip

    def find_item(es, settings, item_id):
        if item_id != "item-1":
            raise items.UnknownItem(item_id)
        return {"id": item_id}

    monkeypatch.setattr(items, "find_item", find_item)
    monkeypatch.setattr(reporters, "reporters", lambda es, settings, item_id: iter([row]))

    answer = web.get("/api/items/item-1/reporters", headers=bearer(ADMIN))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="reporters-item-1.csv"'
    assert answer.text.splitlines() == [
        ",".join(COLUMNS),
        '"forum:1","https://forum.example/1","forum","ko","2026-11-15T08:00:00Z","u1","\'=1+1","hyperos 1.0.7.0",'
        '"\'-1 star: 1.0.7.0 업데이트 후 끊겨요"',  # text quoted, as in every CSV canyu writes (canyu.csv_cells)
    ]
    jsonl = web.get("/api/items/item-1/reporters", params={"format": "jsonl"}, headers=bearer(ADMIN))
    assert jsonl.headers["content-type"] == "application/x-ndjson" and '"author_name": "=1+1"' in jsonl.text
    missing = web.get("/api/items/item-2/reporters", headers=bearer(ADMIN))
    assert missing.status_code == 404 and "item-2" in missing.json()["detail"]
    assert web.get("/api/items/item-1/reporters", params={"format": "xlsx"}, headers=bearer(ADMIN)).status_code == 422


class RecordingEs:
    """Records each search and answers it with the documents it was given."""

    def __init__(self, docs: list[dict]):
        self.docs = docs
        self.searches: list[dict] = []

    def search(self, **request):
        self.searches.append(request)
        return {"hits": {"hits": [{"_source": d} for d in self.docs]}}


def test_releases_are_the_newest_within_the_time_range_whatever_the_other_filters(settings) -> None:
    impact = ReleaseImpact(id="hyperos|1.0.7.0", product="hyperos", version="1.0.7.0", source="seen", window_days=7,
                           date=datetime(2026, 11, 15, tzinfo=timezone.utc),
                           observed_until=datetime(2026, 11, 20, tzinfo=timezone.utc),
                           negative_before=Share(count=1, total=4), negative_after=Share(count=3, total=4))  # fmt: skip
    es = RecordingEs([impact.model_dump(mode="json")])
    shown = reads.releases(es, settings, as_filters(FilterParams(since="30d", lang="zh", version="1.0.7.0")))

    assert shown == [impact]
    (search,) = es.searches
    assert search["index"] == "u.release-impacts" and search["ignore_unavailable"]
    assert search["query"] == {"bool": {"filter": [{"range": {"date": {"gte": "now-30d"}}}]}}
    assert search["sort"] == [{"date": {"order": "desc", "unmapped_type": "date"}}] and search["size"] == reads.RELEASES


def test_feedback_shows_every_item_still_tracked_whatever_its_status(settings) -> None:
    es = RecordingEs([])
    reads.tracked_feedback(es, settings, as_filters(FilterParams(product="phone-x1")))
    query = es.searches[0]["query"]["bool"]
    assert query["must_not"] == [{"term": {"status": "closed"}}]
    assert query["filter"] == [{"terms": {"product": ["phone-x1"]}}]


def test_a_request_body_over_the_limit_or_compressed_is_refused_before_it_is_read(web) -> None:
    """Nothing reaches Kafka here: on the way to it, each body would be a 422 (not a subscription)."""
    huge = {"id": "s-1", "x": "y" * 100_000}  # no name, no channel: a 422 if it were read
    answer = web.post("/api/subscriptions", json=huge, headers=bearer(ADMIN))
    assert answer.status_code == 413 and "at most" in answer.json()["detail"]
    assert "script-src 'self'" in answer.headers["content-security-policy"]

    def chunked():  # no Content-Length: the body is counted as it comes
        yield b'{"id": "s-1", "x": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}'

    answer = web.post("/api/subscriptions", content=chunked(), headers=bearer(ADMIN))
    assert answer.status_code == 413

    packed = gzip.compress(b'{"id": "s-1"}')
    answer = web.post("/api/subscriptions", content=packed, headers={**bearer(ADMIN), "Content-Encoding": "gzip"})
    assert answer.status_code == 415
    assert web.post("/api/subscriptions", json={"id": "s-1"}, headers=bearer(ADMIN)).status_code == 422  # still read


@pytest.mark.parametrize("until", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_with_no_utc_equivalent_is_422_not_500(web, until) -> None:
    response = web.get("/api/summary", params={"until": until}, headers=bearer(READ))
    assert response.status_code == 422
    assert "out of range" in response.text and response.json()["detail"][0]["loc"] == ["query", "until"]
    with pytest.raises(ValueError, match="out of range"):
        Filters(until=datetime.fromisoformat(until))  # the CLI's filters refuse it the same way


def test_an_unexpected_error_is_a_500_that_still_carries_the_policy(settings, monkeypatch) -> None:
    monkeypatch.setattr(reads, "summary", lambda *args: 1 / 0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as web:
        response = web.get("/api/summary", headers=bearer(READ))
    assert response.status_code == 500 and "ZeroDivision" not in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("address", [f"/?%74oken={READ}", f"/?since=7d&%74%6F%6B%65%6E={READ}", f"/?TOKEN={READ}",
                                     f"/?token={READ}&token={READ}", f"/?tok%65n={READ}#x"])  # fmt: skip
def test_a_token_under_any_spelling_of_its_name_never_reaches_the_access_log(address) -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", address, "1.1", 200), None)  # fmt: skip
    assert MaskTokens().filter(record)
    assert READ not in record.getMessage() and "=***" in record.getMessage()


def test_the_page_reads_a_percent_encoded_token_name_so_the_mask_must_too(web) -> None:
    assert web.get(f"/?%74oken={READ}").status_code == 200
