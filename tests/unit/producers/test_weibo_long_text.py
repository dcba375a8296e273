"""Long Weibo statuses: the full text from statuses/show.json, through the source's own client, never at a loss."""

from __future__ import annotations

import json
import logging

import pytest

from producers.weibo import WeiboConfig, WeiboSource
from tests.unit.producers.helpers import (
    FakeProducer,
    FixtureServer,
    Reply,
    fixture,
    make_source,
    run_once,
    weibo_long_text_route,
)

pytestmark = pytest.mark.timeout(60)

TOKEN = "tok-longtext-7a6b5c"
LONG, REPOST, ORIGINAL, COMPLETE = "9007199254741010", "9007199254741005", "9007199254741002", "9007199254741001"


def full_text(status_id: str) -> str:
    return json.loads(fixture(f"weibo/show-{status_id}.json"))["longText"]["longTextContent"]


def short_text(status_id: str) -> str:
    statuses = json.loads(fixture("weibo/long.json"))["statuses"]
    found = {s["idstr"]: s for s in [*statuses, *(s["retweeted_status"] for s in statuses if "retweeted_status" in s)]}
    return found[status_id]["text"]


def texts(producer: FakeProducer) -> dict[str, str]:
    return {post.id.removeprefix("weibo:"): post.text for post in producer.posts()}


def shows(server: FixtureServer) -> list:
    return [r for r in server.requests if r.path.endswith("/show.json")]


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("WEIBO_LONG_TOKEN", TOKEN)
    return "WEIBO_LONG_TOKEN"


def test_a_long_status_gets_its_full_text_through_the_same_client(settings, token, serve):
    server = serve(weibo_long_text_route())
    producer, sleeps = FakeProducer(), []
    ok, stats = run_once(make_source("weibo", server.url, sleeps, token_env=token), settings, producer)
    found = texts(producer)
    assert ok and set(found) == {LONG, REPOST, ORIGINAL, COMPLETE} and stats.published == 4
    assert found[LONG] == full_text(LONG)
    assert found[ORIGINAL] == full_text(ORIGINAL).replace("&amp;", "&")  # a repost's long original too
    assert found[COMPLETE].endswith("指纹解锁快了不少 👍")  # its longText came with the timeline: no request
    assert [r.params for r in shows(server)] == [{"id": i, "isGetLongText": "1"} for i in (LONG, ORIGINAL)]
    assert all(r.headers["authorization"] == f"OAuth2 {TOKEN}" for r in server.requests)
    assert all(r.headers["user-agent"].startswith("canyu-producer/") for r in server.requests)
    assert len([s for s in sleeps if s > 0.5]) == len(server.requests) - 1  # one rate limit for pages and long texts


@pytest.mark.parametrize(
    "reply",
    [Reply(503), Reply(404, b'{"error":"target weibo does not exist!","error_code":20101}'),
     Reply(200, b'{"error":"permission denied, need a high level appkey","error_code":10014}'), Reply(200, b"<html>"),
     Reply(304)],
    ids=["5xx", "404", "an error in JSON", "not JSON", "304 to a request that was not conditional"],
)  # fmt: skip
def test_when_the_long_text_cannot_be_read_the_post_keeps_its_short_text(reply, settings, token, caplog, serve):
    server = serve(weibo_long_text_route(show=lambda request: reply))
    producer = FakeProducer()
    caplog.set_level(logging.DEBUG)
    ok, stats = run_once(make_source("weibo", server.url, token_env=token), settings, producer)
    found = texts(producer)
    assert ok and stats.published == 4 and stats.poll_errors == 0 and not producer.dead_letters()
    assert found[LONG] == short_text(LONG) and found[ORIGINAL] == short_text(ORIGINAL)
    assert len(shows(server)) == (2 * 3 if reply.status >= 500 else 2)  # a 5xx is retried like any request
    assert f"status {LONG} keeps its short text" in caplog.text and TOKEN not in caplog.text


def test_long_texts_are_not_fetched_when_turned_off_nor_for_a_saved_file(settings, serve):
    server = serve(weibo_long_text_route())
    producer = FakeProducer()
    ok, _ = run_once(make_source("weibo", server.url, long_text=False), settings, producer)
    assert ok and shows(server) == [] and texts(producer)[LONG] == short_text(LONG)
    saved = WeiboSource(WeiboConfig.model_validate({"name": "weibo"}, context={"polling": False}))
    assert [r.item["idstr"] for r in saved.records(fixture("weibo/long.json"))] == [LONG, ORIGINAL, REPOST, COMPLETE]


def test_show_url_defaults_beside_the_timeline_and_can_be_set(settings, serve):
    server = serve(weibo_long_text_route())
    producer = FakeProducer()
    run_once(make_source("weibo", f"{server.url}/2/statuses/home_timeline.json"), settings, producer)
    run_once(make_source("weibo", f"{server.url}/feed.json", name="other", show_url=f"{server.url}/x/show.json"),
             settings, producer)  # fmt: skip
    assert [r.path for r in shows(server)] == ["/2/statuses/show.json"] * 2 + ["/x/show.json"] * 2
