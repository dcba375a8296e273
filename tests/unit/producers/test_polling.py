"""Polling each connector against a local server of recorded pages, with Kafka replaced by a fake."""

from __future__ import annotations

import logging

import pytest

from producers.sources import build, source_config
from producers.state import CursorStore
from tests.unit.producers.helpers import (
    DISCOURSE_PAGES,
    REDDIT_PAGES,
    FakeProducer,
    Reply,
    fixture,
    make_source,
    native_ids,
    page_router,
    run_once,
    weibo_route,
)

pytestmark = pytest.mark.timeout(60)  # a cursor that never moves would poll forever

# Every post and every bad record in each recorded sequence.
EXPECTED = {
    "weibo": ({"9007199254740995", "9007199254740001", "9007199254740993", "9007199254740990", "9007199254740980",
               "9007199254740970", "9007199254740960", "9007199254740950"}, 2),
    "discourse": ({"7/4", "8/2", "7/3", "8/1", "7/1"}, 1),
    "reddit": ({"t3_1h9x3kq", "t1_m1abcd7", "t3_1h9x2zz", "t3_1h9x2aa", "t3_1h9x1yy", "t3_1h9x0aa"}, 1),
}  # fmt: skip
ROUTES = {
    "weibo": (weibo_route, "max_id", "9007199254740969"),  # (route, paging parameter, the third page's token)
    "discourse": (page_router("before", DISCOURSE_PAGES), "before", "116"),
    "reddit": (page_router("after", REDDIT_PAGES), "after", "t3_1h9x1yy"),
}


@pytest.mark.parametrize("kind", EXPECTED)
def test_paging_publishes_every_post_once_and_bad_records_to_the_dlq(kind, settings, serve):
    server = serve(ROUTES[kind][0])
    producer = FakeProducer()
    ok, stats = run_once(make_source(kind, server.url, backfill_pages=10), settings, producer)
    again, _ = run_once(make_source(kind, server.url, backfill_pages=10), settings, producer)
    ids, bad = EXPECTED[kind]
    assert ok and again
    assert sorted(native_ids(producer, kind)) == sorted(ids)  # the second poll found nothing new
    assert all(key == f"{kind}:{native}".encode() for (_, key, _), native in zip(
        [s for s in producer.sent if s[0] == "t.posts.raw"], native_ids(producer, kind), strict=True))  # fmt: skip
    letters = producer.dead_letters()
    assert len(letters) == bad and all(d.source == kind and d.stage == "produce" and d.raw() for d in letters)
    assert (stats.published, stats.failed, stats.last_error) == (len(ids), bad, None)
    assert stats.last_success is not None


@pytest.mark.parametrize("kind", EXPECTED)
def test_a_restart_between_pages_resumes_without_loss_or_doubles(kind, settings, serve):
    route, param, third_page = ROUTES[kind]
    crash = {"on": True}

    def crashing(request):  # the first run dies when it asks for the third page
        if crash["on"] and request.params.get(param) == third_page:
            return Reply(404, b"gone")
        return route(request)

    server = serve(crashing)
    producer = FakeProducer()
    died, _ = run_once(make_source(kind, server.url, backfill_pages=10, retries=0), settings, producer)
    crash["on"] = False
    first_of_second_run = len(server.requests)
    ok, _ = run_once(make_source(kind, server.url, backfill_pages=10), settings, producer)
    assert not died and ok
    assert server.requests[first_of_second_run].params.get(param) == third_page  # resumed, not restarted
    ids = native_ids(producer, kind)
    assert sorted(ids) == sorted(EXPECTED[kind][0]) and len(ids) == len(set(ids))
    assert len(producer.dead_letters()) == EXPECTED[kind][1]


@pytest.mark.parametrize("kind", EXPECTED)
def test_5xx_and_429_are_retried_honouring_retry_after(kind, settings, serve):
    trouble = [Reply(503), Reply(429, headers={"Retry-After": "3"})]
    server = serve(lambda request: trouble.pop(0) if trouble else ROUTES[kind][0](request))
    producer, sleeps = FakeProducer(), []
    ok, stats = run_once(make_source(kind, server.url, sleeps, backfill_pages=10), settings, producer)
    assert ok and 3.0 in sleeps and stats.poll_errors == 0
    assert sorted(native_ids(producer, kind)) == sorted(EXPECTED[kind][0])


def test_a_server_that_keeps_failing_is_retried_by_the_http_client_alone(settings, serve):
    server = serve(lambda request: Reply(503))
    died, stats = run_once(make_source("weibo", server.url, retries=2), settings, FakeProducer())
    assert not died and stats.poll_errors == 1 and "503" in stats.last_error
    assert len(server.requests) == 3  # a request and its two retries; not, again, for each of three polls


def test_the_first_run_reads_only_backfill_pages_then_follows_new_posts(settings, serve):
    server = serve(weibo_route)
    producer = FakeProducer()
    ok, _ = run_once(make_source("weibo", server.url, backfill_pages=1), settings, producer)
    run_once(make_source("weibo", server.url, backfill_pages=1), settings, producer)
    assert ok and len(producer.posts()) == 4  # page 1 only: three statuses and one original
    assert server.requests[-1].params == {"count": "100", "since_id": "9007199254740995"}


def test_an_empty_discuz_feed_means_retry_later_not_nothing_new(settings, serve):
    feeds = [fixture("rss/discuz-empty.xml")]
    server = serve(lambda request: Reply(200, feeds.pop(0) if feeds else fixture("rss/discuz-gb2312.xml"),
                                                 {"Content-Type": "application/rss+xml"}))  # fmt: skip
    producer = FakeProducer()
    ok, stats = run_once(make_source("rss", server.url + "/forum.php?mod=rss&fid=2", name="bbs"), settings, producer)
    assert ok and len(server.requests) == 2
    assert stats.poll_errors == 1 and stats.published == 2 and stats.failed == 1


def test_a_feed_that_stays_empty_gives_up_in_once_mode_and_keeps_its_cursor(settings, serve):
    server = serve(lambda request: Reply(200, fixture("rss/discuz-empty.xml")))
    producer = FakeProducer()
    ok, stats = run_once(make_source("rss", server.url, name="bbs", retries=1), settings, producer)
    assert not ok and producer.sent == []
    assert "empty" in stats.last_error and stats.poll_errors == 2


def test_a_feed_polled_again_skips_what_it_published_and_dead_lettered(settings, serve):
    server = serve(lambda request: Reply(200, fixture("rss/discuz-gb2312.xml")))
    producer = FakeProducer()
    run_once(make_source("rss", server.url, name="bbs"), settings, producer)
    ok, stats = run_once(make_source("rss", server.url, name="bbs"), settings, producer)
    assert ok and len(producer.posts()) == 2 and len(producer.dead_letters()) == 1
    assert (stats.fetched, stats.published, stats.duplicates, stats.failed) == (3, 0, 3, 0)


def test_a_gb2312_feed_decodes_by_the_http_charset_too(settings, serve):
    body = fixture("rss/discuz-gb2312.xml").replace(b' encoding="gb2312"', b"")  # the charset only in the header
    server = serve(lambda request: Reply(200, body, {"Content-Type": "text/xml; charset=gb2312"}))
    producer = FakeProducer()
    run_once(make_source("rss", server.url, name="bbs"), settings, producer)
    assert {p.title for p in producer.posts()} == {"升级后耗电快，待机一晚掉了百分之二十", "求助：蓝牙耳机连不上"}


def test_an_unreadable_response_goes_to_the_dlq_whole_and_polling_goes_on(settings, serve):
    replies = [Reply(200, b"<html>maintenance</html>")]
    server = serve(lambda request: replies.pop(0) if replies else weibo_route(request))
    producer = FakeProducer()
    ok, stats = run_once(make_source("weibo", server.url, backfill_pages=10), settings, producer)
    first = producer.dead_letters()[0]
    assert first.raw() == b"<html>maintenance</html>" and first.reason.startswith("unreadable response: invalid JSON")
    assert ok and stats.poll_errors == 1 and len(producer.posts()) == 8


def test_unacknowledged_sends_keep_the_cursor_and_are_sent_again(settings, serve):
    server = serve(page_router("before", DISCOURSE_PAGES))
    producer = FakeProducer()
    producer.refuse = True
    ok, stats = run_once(make_source("discourse", server.url, retries=0), settings, producer)
    assert not ok and "not acknowledged" in stats.last_error
    assert CursorStore.for_source(settings, "discourse").load().position == {}
    producer.refuse = False
    ok, _ = run_once(make_source("discourse", server.url, backfill_pages=10), settings, producer)
    assert ok and sorted(native_ids(producer, "discourse")) == sorted(EXPECTED["discourse"][0])


def test_the_token_goes_in_a_header_and_never_into_logs(settings, monkeypatch, caplog, serve):
    monkeypatch.setenv("WEIBO_TEST_TOKEN", "tok-9f8e7d6c5b4a")
    replies = [Reply(500), Reply(401)]
    server = serve(lambda request: replies.pop(0) if replies else weibo_route(request))
    producer = FakeProducer()
    caplog.set_level(logging.DEBUG)
    died, stats = run_once(make_source("weibo", server.url, token_env="WEIBO_TEST_TOKEN"), settings, producer)
    assert not died and stats.poll_errors == 1  # the client retried the 500; the 401 failed the poll
    status = (settings.home / "producers" / "t.weibo" / "status.json").read_text()
    assert "HTTP 401" in status and "tok-9f8e7d6c5b4a" not in status
    ok, _ = run_once(make_source("weibo", server.url, token_env="WEIBO_TEST_TOKEN"), settings, producer)
    assert ok  # the next poll went through
    assert all(r.headers["authorization"] == "OAuth2 tok-9f8e7d6c5b4a" for r in server.requests)
    assert all("tok-9f8e7d6c5b4a" not in str(r.params) for r in server.requests)
    assert "HTTP 401" in caplog.text and "tok-9f8e7d6c5b4a" not in caplog.text


def test_a_replay_source_resumes_at_its_offset_and_picks_up_appended_lines(settings, tmp_path):
    from producers.replay import sample_corpus

    lines = sample_corpus().read_bytes().splitlines(keepends=True)
    path = tmp_path / "posts.jsonl"
    path.write_bytes(b"".join(lines[:5]) + b"not json\n")
    producer = FakeProducer()

    def replay_once():
        config = source_config("replay", {"name": "archive", "path": str(path), "lines_per_page": 2})
        return run_once(build(config), settings, producer)

    replay_once()
    with path.open("ab") as f:
        f.write(b"".join(lines[5:8]) + lines[8].rstrip(b"\n"))  # the last line is still being written
    ok, stats = replay_once()
    assert ok and [p.id for p in producer.posts()] == [line.split(b'"')[3].decode() for line in lines[:8]]
    assert len(producer.dead_letters()) == 1 and stats.published == 3


def test_a_post_from_the_same_second_as_the_high_water_mark_is_not_lost(settings, serve):
    import json

    listing = json.loads(fixture("reddit/new-page3.json"))
    first = listing["data"]["children"][0]
    twin = {"kind": "t3", "data": {**first["data"], "name": "t3_1h9x0ab", "id": "1h9x0ab"}}  # posted the same second
    bodies = [listing, {**listing, "data": {**listing["data"], "children": [twin, first]}}]
    server = serve(
        lambda request: Reply(200, json.dumps(bodies[0] if len(server.requests) == 1 else bodies[1]).encode())
    )
    producer = FakeProducer()
    run_once(make_source("reddit", server.url), settings, producer)
    ok, stats = run_once(make_source("reddit", server.url), settings, producer)
    assert ok and native_ids(producer, "reddit") == ["t3_1h9x0aa", "t3_1h9x0ab"]
    assert stats.duplicates == 1


@pytest.mark.parametrize(
    "kind, options, headers",
    [("weibo", {}, {"Authorization": "OAuth2 k3y"}), ("reddit", {}, {"Authorization": "bearer k3y"}),
     ("discourse", {"api_username": "system"}, {"Api-Key": "k3y", "Api-Username": "system"})],
)  # fmt: skip
def test_each_kind_sends_the_token_in_its_own_header(kind, options, headers, monkeypatch):
    monkeypatch.setenv("TEST_TOKEN", "k3y")
    config = source_config(kind, {"name": kind, "url": "https://x.example/", "token_env": "TEST_TOKEN", **options})
    assert build(config).auth_headers() == headers
