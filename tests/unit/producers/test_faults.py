"""Producers under bad input and hostile servers: each finding of issue 10, with the test that showed it."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest
from kafka.errors import MessageSizeTooLargeError

from canyu.dates import in_window
from canyu.settings import Settings
from canyu_runtime.kafka_clients import MAX_RECORD_BYTES
from producers.http import FetchError, Http
from producers.rss import RssConfig, RssSource
from producers.runner import Publisher
from producers.sources import build, source_config
from producers.state import CursorStore
from producers.weibo import WeiboConfig, WeiboSource
from tests.unit.producers.helpers import LOCAL, FakeProducer, Reply, fixture, make_source, run_once

pytestmark = pytest.mark.timeout(60)
NOW = datetime.now(timezone.utc)


class StrictProducer(FakeProducer):
    """Refuses a record over kafka-python's max_request_size at send, as the real producer does."""

    def send(self, topic: str, key: bytes, value: bytes):
        if len(value) > 1_048_576:
            raise MessageSizeTooLargeError(f"the message is {len(value)} bytes")
        return super().send(topic, key, value)


def reddit_child(name: str, created_utc, **data) -> dict:
    return {"kind": "t3", "data": {"name": name, "title": "t", "selftext": "battery", "author": "a",
                                   "created_utc": created_utc, **data}}  # fmt: skip


def listing(*children: dict) -> bytes:
    return json.dumps({"kind": "Listing", "data": {"after": None, "children": list(children)}}).encode()


def serve_once(serve, body: bytes, content_type: str = "application/json"):
    return serve(lambda request: Reply(200, body, {"Content-Type": content_type}))


def one_post_and_one_letter(serve, settings, producer, bad: dict):
    """Poll a Reddit page of a good post and ``bad``: the page goes on, ``bad`` is the one dead letter."""
    server = serve_once(serve, listing(reddit_child("t3_ok", NOW.timestamp() - 60), bad))
    ok, _ = run_once(make_source("reddit", f"{server.url}/new.json"), settings, producer)
    assert ok
    assert [p.id for p in producer.posts()] == ["reddit:t3_ok"]
    (letter,) = producer.dead_letters()
    return letter


# --- Dates: infinity, the far future, and no timezone -----------------------------------------------------------------


def test_the_sane_window_is_a_floor_and_a_margin_after_fetched_at():
    settings = Settings(date_future_margin_s=3600)
    assert in_window(NOW - timedelta(days=3000), NOW, settings)
    assert in_window(NOW + timedelta(minutes=59), NOW, settings)
    assert not in_window(NOW + timedelta(hours=2), NOW, settings)
    assert not in_window(datetime(1999, 12, 31, tzinfo=timezone.utc), NOW, settings)


@pytest.mark.parametrize("created", [float("inf"), 1e300], ids=["infinity", "past-year-9999"])
def test_a_reddit_created_utc_that_is_no_date_is_a_dead_letter_and_the_page_goes_on(settings, serve, created):
    letter = one_post_and_one_letter(serve, settings, FakeProducer(), reddit_child("t3_bad", created))
    assert "created_utc" in letter.reason


def test_a_far_future_date_never_becomes_the_high_water_mark(settings, serve):
    now = NOW.timestamp()
    future = datetime(2999, 1, 1, tzinfo=timezone.utc).timestamp()
    body = listing(reddit_child("t3_future", future), reddit_child("t3_ok", now - 60))
    server = serve_once(serve, body)
    source = make_source("reddit", f"{server.url}/new.json")
    ok, _ = run_once(source, settings, FakeProducer())
    assert ok
    high = int(CursorStore.for_source(settings, "reddit").load().position["high"])
    assert high == int(now - 60)


def test_a_discuz_date_without_a_timezone_takes_the_feeds_language_zone_with_a_warning(caplog):
    feed = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>bbs</title>
    <language>zh-cn</language><item><title>耗电快</title><link>https://bbs.example.cn/thread-7-1-1.html</link>
    <description>待机掉电</description><pubDate>2018-09-17 15:51:23</pubDate></item></channel></rss>"""
    source = RssSource(RssConfig(name="bbs", url="https://bbs.example.cn/forum.php?mod=rss"))
    (record,) = source.records(feed.encode())
    caplog.set_level(logging.WARNING)
    post = source.map_item(record.item)
    assert post.created_at == datetime(2018, 9, 17, 7, 51, 23, tzinfo=timezone.utc)
    assert post.created_at.utcoffset() == timedelta(hours=8)
    assert "no timezone" in caplog.text and "Asia/Shanghai" in caplog.text


@pytest.mark.parametrize(("configured", "language", "hours"), [
    ("Asia/Tokyo", "zh-cn", 9), (None, "ko", 9), (None, "ja-JP", 9), (None, "en-us", 0), (None, None, 0),
])  # fmt: skip
def test_the_timezone_setting_wins_over_the_language_and_utc_is_the_last_resort(configured, language, hours):
    source = RssSource(RssConfig(name="bbs", url="https://bbs.example.cn/rss", timezone=configured))
    entry = {"id": "1", "title": "t", "published": "2018-09-17 15:51:23"}
    if language:
        entry["canyu_feed_language"] = language
    assert source.map_item(entry).created_at.utcoffset() == timedelta(hours=hours)


def test_an_unknown_timezone_setting_is_refused():
    with pytest.raises(ValueError, match="IANA"):
        RssConfig(name="bbs", url="https://bbs.example.cn/rss", timezone="Mars/Olympus")


def test_a_status_repeated_within_one_page_is_published_once(settings):
    source = WeiboSource(WeiboConfig.model_validate({"name": "weibo"}, context={"polling": False}))
    status = json.loads(fixture("weibo/page1.json"))["statuses"][0]
    body = json.dumps({"statuses": [status, status]}).encode()
    producer = FakeProducer()
    cursor = CursorStore.for_source(settings, "weibo").load()
    result = Publisher(producer, settings, source).publish_page(source.records(body), cursor)
    ids = [post.id for post in producer.posts()]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 2  # the repost and its original, once each
    assert result.published == 2


# --- Size: a record over Kafka's limit, and a big response ------------------------------------------------------------


def test_a_post_over_the_record_limit_is_a_dead_letter_and_the_page_goes_on(settings, serve):
    big = reddit_child("t3_big", NOW.timestamp() - 30, title="電" * 400_000)
    letter = one_post_and_one_letter(serve, settings, StrictProducer(), big)
    assert "record limit" in letter.reason


def test_a_post_that_kafka_refuses_as_too_large_is_a_dead_letter(settings):
    class Refusing(FakeProducer):
        def send(self, topic, key, value):
            if topic.endswith("posts.raw") and b"t3_big" in value:
                raise MessageSizeTooLargeError("too large")
            return super().send(topic, key, value)

    source = make_source("reddit", "https://example.com/new.json")
    records = source.records(listing(reddit_child("t3_big", NOW.timestamp()), reddit_child("t3_ok", NOW.timestamp())))
    producer = Refusing()
    cursor = CursorStore.for_source(settings, "reddit").load()
    result = Publisher(producer, settings, source).publish_page(records, cursor)
    assert (result.published, result.failed) == (1, 1)
    assert "too large" in producer.dead_letters()[0].reason


def test_an_unreadable_response_too_big_for_one_record_is_kept_in_part_and_the_source_lives(settings, serve):
    server = serve_once(serve, b"<html>" + b"x" * 800_000, "text/html")
    producer = StrictProducer()
    ok, stats = run_once(make_source("reddit", f"{server.url}/new.json", retries=0), settings, producer)
    assert not ok and stats.poll_errors  # gave up in once mode, without a traceback ending the thread
    (letter,) = producer.dead_letters()
    assert "unreadable response" in letter.reason and "too big to keep whole" in letter.reason
    assert letter.raw().startswith(b"<html>xxx") and len(letter.model_dump_json()) <= MAX_RECORD_BYTES


def test_a_response_over_the_cap_is_refused_with_a_clear_error(serve):
    server = serve_once(serve, b"x" * 5000)
    http = Http(user_agent="t", max_response_bytes=1024, retries=0, allowed_hosts=LOCAL)
    with pytest.raises(FetchError, match="over 1024 bytes.*max_response_bytes"):
        http.get(f"{server.url}/big")
    http = Http(user_agent="t", max_response_bytes=5000, allowed_hosts=LOCAL)
    assert len(http.get(f"{server.url}/big").content) == 5000


def test_a_big_response_stops_the_page_not_the_source(settings, serve):
    server = serve_once(serve, b"{}" + b" " * 5000)
    ok, stats = run_once(make_source("reddit", f"{server.url}/new.json", max_response_bytes=1024), settings,
                         FakeProducer())  # fmt: skip
    assert not ok and "max_response_bytes" in stats.last_error


def test_retry_after_waits_are_capped(settings, serve):
    answers = iter([Reply(429, b"", {"Retry-After": "86400"}), Reply(200, listing(), {})])
    server = serve(lambda request: next(answers))
    sleeps: list[float] = []
    source = make_source("reddit", f"{server.url}/new.json", sleeps=sleeps, max_retry_after_s=7)
    source.http.get(f"{server.url}/new.json")
    assert max(sleeps) == 7


# --- Credentials on redirects -----------------------------------------------------------------------------------------


def redirecting(httpserver, target: str):
    def route(request):
        if request.path == "/posts.json":
            return Reply(302, b"", {"Location": target})
        return Reply(200, json.dumps({"latest_posts": []}).encode(), {"Content-Type": "application/json"})

    return route


def test_discourse_credentials_are_stripped_on_a_cross_origin_redirect(serve, httpserver, monkeypatch):
    monkeypatch.setenv("FORUM_KEY", "k3y")
    other_origin = httpserver.url_for("/elsewhere.json").replace("localhost", "127.0.0.1")
    server = serve(redirecting(httpserver, other_origin))
    source = make_source("discourse", server.url, token_env="FORUM_KEY", api_username="system")
    source.fetch({})
    first, second = server.requests
    assert first.headers["api-key"] == "k3y" and first.headers["api-username"] == "system"
    assert second.path == "/elsewhere.json"
    assert "api-key" not in second.headers and "api-username" not in second.headers


def test_credentials_follow_a_same_origin_redirect(serve, httpserver, monkeypatch):
    monkeypatch.setenv("FORUM_KEY", "k3y")
    server = serve(redirecting(httpserver, "/elsewhere.json"))
    source = make_source("discourse", server.url, token_env="FORUM_KEY", api_username="system")
    source.fetch({})
    assert server.requests[1].headers["api-key"] == "k3y"


# --- The outbound guard: a feed on a private address ------------------------------------------------------------------


@pytest.mark.parametrize("allowed", [[], ["localhost"]])
def test_a_source_on_a_private_address_is_refused_unless_fetch_allowed_hosts_names_it(settings, serve, allowed):
    server = serve(lambda request: Reply(200, fixture("reddit/new-page3.json"), {"Content-Type": "application/json"}))
    settings = settings.replace(fetch_allowed_hosts=allowed)
    config = source_config("reddit", {"name": "reddit", "url": f"{server.url}/new.json", "retries": 0})
    ok, stats = run_once(build(config, settings), settings, FakeProducer())
    if allowed:
        assert ok and stats.published > 0
    else:
        assert not ok and server.requests == []
        assert "non-public" in stats.last_error and "fetch_allowed_hosts" in stats.last_error


# --- Ids: one bogus id never becomes the high-water mark ------------------------------------------------------------


def weibo_status(status_id: int) -> dict:
    return {"id": status_id, "idstr": str(status_id), "created_at": "Fri Nov 27 20:41:09 +0800 2026",
            "text": f"电池 {status_id}", "user": {"id": 7, "screen_name": "u"}}  # fmt: skip


def weibo_timeline(statuses: list[dict]):
    """statuses/home_timeline.json as Weibo answers it: newer than since_id, at most max_id, newest first."""

    def route(request):
        since, top = int(request.params.get("since_id", 0)), int(request.params.get("max_id", 10**30))
        page = [s for s in statuses if since < s["id"] <= top]
        return Reply(200, json.dumps({"statuses": sorted(page, key=lambda s: -s["id"])}).encode())

    return route


def discourse_post(post_id: int) -> dict:
    return {"id": post_id, "topic_id": 7, "post_number": post_id, "created_at": "2026-11-27T12:41:09.512Z",
            "cooked": f"<p>battery {post_id}</p>", "username": "mina", "user_id": 3}  # fmt: skip


def discourse_latest(posts: list[dict]):
    """/posts.json as Discourse answers it: older than before=, newest first."""

    def route(request):
        before = int(request.params.get("before", 10**30))
        page = sorted((p for p in posts if p["id"] < before), key=lambda p: -p["id"])
        return Reply(200, json.dumps({"latest_posts": page}).encode())

    return route


REAL_WEIBO = 4_901_234_567_890_100
BOGUS = {"weibo": [2**63 - 7, 10**20], "discourse": [10**12, 2**60]}  # far ahead of real ids; past the id's shape


@pytest.mark.parametrize(("kind", "bogus"), [(kind, bogus) for kind, ids in BOGUS.items() for bogus in ids])
def test_one_bogus_id_never_becomes_the_mark_and_later_posts_are_published(settings, serve, kind, bogus):
    real = [REAL_WEIBO, REAL_WEIBO + 10] if kind == "weibo" else [120, 121]
    make = weibo_status if kind == "weibo" else discourse_post
    items = [make(real[0]), make(real[1]), make(bogus)]
    server = serve((weibo_timeline if kind == "weibo" else discourse_latest)(items))
    producer = FakeProducer()
    assert run_once(make_source(kind, server.url), settings, producer)[0]
    items.append(make(real[1] + 1))  # a real post, written after the first poll
    assert run_once(make_source(kind, server.url), settings, producer)[0]
    published = {post.id.rsplit(":", 1)[1].rsplit("/", 1)[-1] for post in producer.posts()}
    assert published == {str(i) for i in [*real, real[1] + 1, bogus]}  # the bogus one too, like any post
    assert int(CursorStore.for_source(settings, kind).load().position["high"]) == real[1] + 1


# --- Depth: JSON nested past what a parser can take -------------------------------------------------------------------


@pytest.mark.parametrize("depth", [200, 1_000, 100_000])
def test_a_page_nested_too_deep_is_one_dead_letter_not_a_page_retried_forever(settings, serve, depth):
    deep = "[" * depth + "]" * depth
    status = json.dumps(weibo_status(REAL_WEIBO)).replace('"text": ', f'"text": {deep}, "x": ')
    server = serve_once(serve, f'{{"statuses": [{status}]}}'.encode())
    producer = FakeProducer()
    run_once(make_source("weibo", server.url, retries=0), settings, producer)
    (letter,) = producer.dead_letters()
    assert letter.reason.startswith("unreadable response: JSON nested deeper than 128 levels")
    assert letter.raw().startswith(b'{"statuses": [{"id": ')
    run_once(make_source("weibo", server.url, retries=0), settings, producer)  # the feed keeps serving it
    assert len(producer.dead_letters()) == 1 and producer.posts() == []  # set aside once, as the runner promises


@pytest.mark.parametrize(("written", "year"), [("Mon, 01 Jan 0001 00:00:00 +0000", 1),
                                               ("Sat, 01 Jan 0100 00:00:00 GMT", 100),
                                               ("Mon, 17 Sep 2018 15:51:23 +0800", 2018),
                                               ("Mon, 17 Sep 18 15:51:23 +0800", 2018)])  # fmt: skip
def test_an_rss_date_keeps_the_year_it_was_written_with(written, year):
    source = RssSource(RssConfig(name="bbs", url="https://bbs.example.cn/rss"))
    post = source.map_item({"id": "1", "title": "t", "published": written})
    assert post.created_at.year == year  # year 1 is then outside the sane window: a dead letter, never 2001
    assert not in_window(post.created_at, NOW, Settings()) or year == 2018


def test_an_rss_date_in_year_0_is_a_clear_error():
    source = RssSource(RssConfig(name="bbs", url="https://bbs.example.cn/rss"))
    with pytest.raises(ValueError, match="has no valid year"):
        source.map_item({"id": "1", "title": "t", "published": "Mon, 01 Jan 0000 00:00:00 +0000"})


# --- XML: entities ----------------------------------------------------------------------------------------------------


def test_a_feeds_entities_are_never_expanded_nor_external_ones_read():
    source = RssSource(RssConfig(name="bbs", url="https://bbs.example.cn/rss"))
    item = "<item><guid>1</guid><title>{}</title><pubDate>Mon, 17 Sep 2018 15:51:23 +0800</pubDate></item>"
    laughs = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)).replace("&lol0;", "lol")
    bomb = f'<?xml version="1.0"?><!DOCTYPE r [{laughs}]><rss version="2.0"><channel>{item.format("&lol9;")}'
    (record,) = source.records((bomb + "</channel></rss>").encode())
    assert len(record.item["title"]) < 100  # a billion laughs stays one word
    xxe = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel>'
    (record,) = source.records((xxe + item.format("&x;") + "</channel></rss>").encode())
    assert "root:" not in json.dumps(record.item)  # an external entity is never read
