"""Discourse in topics mode against a local forum of recorded pages: /latest.json, /t/{id}.json, post_ids[]."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from producers import discourse_topics
from producers.discourse_topics import stream_posts
from producers.sources import ConfigError, source_config
from producers.state import CursorStore
from tests.unit.producers.helpers import (
    DiscourseForum,
    FakeProducer,
    Reply,
    fixture,
    make_source,
    native_ids,
    run_once,
)

pytestmark = pytest.mark.timeout(60)

FIRST, LATER = DiscourseForum.POSTS, DiscourseForum.LATER_POSTS


def topics_source(url: str, **options):
    return make_source("discourse", url, mode="topics", backfill_pages=10, **options)


def paths(requests) -> list[str]:
    return [r.path + (f"?page={r.params['page']}" if "page" in r.params else "") for r in requests]


def test_a_sweep_reads_every_listed_topic_with_the_posts_past_its_first_chunk(settings, serve):
    server = serve(DiscourseForum())
    producer = FakeProducer()
    ok, stats = run_once(topics_source(server.url), settings, producer)
    assert ok and sorted(native_ids(producer, "discourse")) == sorted(FIRST)
    assert [d.reason for d in producer.dead_letters()] == ["created_at 'not a date' is not an ISO 8601 time"]
    assert paths(server.requests) == ["/latest.json", "/latest.json?page=1", "/t/3.json", "/t/9.json",
                                      "/t/9/posts.json", "/t/7.json", "/t/8.json", "/t/5.json"]  # fmt: skip
    assert server.requests[4].values("post_ids[]") == ["80", "81", "124"]  # the stream past the chunk of 20
    posts = {p.id: p for p in producer.posts()}
    last = posts["discourse:9/23"]
    assert last.title == "X5 battery megathread 🔋" and last.parent_id == "discourse:9/22"
    assert last.text == "After the 2.1 patch:\n81% left at bedtime"
    assert last.url == f"{server.url}/t/x5-battery-megathread/9/23"
    assert posts["discourse:8/2"].title == "Battery life on the X5"
    assert (stats.published, stats.failed, stats.last_error) == (30, 1, None)


@pytest.mark.parametrize("idle_sweeps", [0, 1], ids=["topics-known", "quiet-topics-forgotten"])
def test_later_sweeps_read_only_the_topics_that_moved_and_only_their_new_posts(idle_sweeps, settings, serve):
    forum = DiscourseForum()
    server = serve(forum)
    producer = FakeProducer()
    run_once(topics_source(server.url), settings, producer)
    for _ in range(idle_sweeps):
        before = len(server.requests)
        run_once(topics_source(server.url), settings, producer)
        assert paths(server.requests[before:]) == ["/latest.json"]  # nothing bumped since: one request
    assert len(producer.posts()) == len(FIRST)
    forum.later = True
    before = len(server.requests)
    ok, stats = run_once(topics_source(server.url), settings, producer)
    assert paths(server.requests[before:]) == ["/latest.json", "/latest.json?page=1", "/t/9.json",
                                               "/t/9/posts.json", "/t/10.json", "/t/7.json"]  # fmt: skip
    assert server.requests[before + 3].values("post_ids[]") == ["127"]
    again, _ = run_once(topics_source(server.url), settings, producer)
    ids = native_ids(producer, "discourse")
    assert ok and again and set(ids[len(FIRST) :]) == LATER and len(ids) == len(set(ids))
    assert len(producer.dead_letters()) == 1  # 7/2 is not sent again
    # A forgotten topic's undated post may be new: it is sent, and the cursor's recent ids catch it as a duplicate.
    assert (stats.published, stats.duplicates) == (3, idle_sweeps)
    posts = {p.id: p for p in producer.posts()}
    assert posts["discourse:10/1"].text == "X5はeSIMに対応していますか？📱"
    assert posts["discourse:7/5"].parent_id == "discourse:7/4"


@pytest.mark.parametrize("failure", ["a 5xx on the posts past the chunk", "Kafka refusing the topic's posts"])
def test_a_restart_in_the_middle_of_a_sweep_resumes_at_its_topic_without_loss_or_doubles(failure, settings, serve):
    forum = DiscourseForum()
    producer = FakeProducer()
    crash = {"on": True}

    def crashing(request):  # the first run dies on topic 9, after topic 3 was published
        if crash["on"] and failure.startswith("a 5xx") and request.path == "/t/9/posts.json":
            return Reply(500)
        if crash["on"] and failure.startswith("Kafka") and request.path == "/t/9.json":
            producer.refuse = True
        return forum(request)

    server = serve(crashing)
    died, _ = run_once(topics_source(server.url, retries=0), settings, producer)
    position = CursorStore.for_source(settings, "discourse").load().position
    crash["on"] = producer.refuse = False
    first_of_second_run = len(server.requests)
    ok, _ = run_once(topics_source(server.url), settings, producer)
    assert not died and ok
    assert [topic for topic, _, _ in position["queue"]] == ["9", "7", "8", "5"]  # topic 3 was acknowledged
    assert server.requests[first_of_second_run].path == "/t/9.json"  # resumed at the topic, not at the listing
    ids = native_ids(producer, "discourse")
    assert sorted(ids) == sorted(FIRST) and len(ids) == len(set(ids))
    assert len(producer.dead_letters()) == 1


def test_a_topic_gone_since_it_was_listed_is_skipped_and_the_sweep_goes_on(settings, caplog, serve):
    forum = DiscourseForum()
    server = serve(lambda request: Reply(404) if request.path == "/t/8.json" else forum(request))
    producer = FakeProducer()
    ok, stats = run_once(topics_source(server.url), settings, producer)
    assert ok and stats.poll_errors == 0
    assert sorted(native_ids(producer, "discourse")) == sorted(FIRST - {"8/1", "8/2"})
    assert "topic 8 is gone" in caplog.text


def test_a_topic_the_cursor_does_not_know_is_read_back_from_its_tail_only_as_far_as_since(monkeypatch, serve):
    monkeypatch.setattr(discourse_topics, "CHUNK", 1)
    server = serve(DiscourseForum())
    sweep = topics_source(server.url)
    topic = stream_posts(fixture("discourse/topics/t-9-later.json"))
    since = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
    records, last_id = sweep.new_posts("9", topic, None, since)
    assert [r.item["id"] for r in records] == [124, 127] and last_id == 127
    assert [r.values("post_ids[]") for r in server.requests] == [["127"], ["124"], ["81"]]  # not 80: 81 is older


def test_an_unknown_mode_fails_at_start_naming_the_field():
    with pytest.raises(ConfigError, match=r"mode: Input should be 'posts' or 'topics'"):
        source_config("discourse", {"name": "forum", "url": "https://forum.example.com", "mode": "threads"})


def test_the_log_names_no_token(settings, monkeypatch, caplog, serve):
    monkeypatch.setenv("DISCOURSE_TEST_KEY", "key-1a2b3c4d")
    caplog.set_level(logging.DEBUG)
    server = serve(DiscourseForum())
    run_once(topics_source(server.url, token_env="DISCOURSE_TEST_KEY"), settings, FakeProducer())
    assert all(r.headers["api-key"] == "key-1a2b3c4d" for r in server.requests)
    assert "key-1a2b3c4d" not in caplog.text


@pytest.mark.parametrize("bogus", [10**12, 2**60], ids=["far-ahead", "past-the-id-shape"])
def test_a_bogus_post_id_in_a_topic_is_published_but_never_becomes_the_topics_mark(bogus):
    source = topics_source("https://forum.example.com")
    posts = [{"id": i, "topic_id": 7, "post_number": n, "created_at": "2026-11-27T12:41:09Z", "cooked": "<p>x</p>",
              "username": "mina"} for n, i in enumerate([120, 121, bogus], start=1)]  # fmt: skip
    topic = {"title": "X5", "post_stream": {"posts": posts, "stream": [120, 121, bogus]}}
    records, last_id = source.new_posts("7", topic, {"bumped_at": "x", "posts_count": 2, "last_id": 119}, None)
    assert [record.item["id"] for record in records] == [120, 121, bogus]
    assert last_id == 121  # so post 122, when it comes, is read


@pytest.mark.parametrize("path", ["/t/9.json", "/t/9/posts.json", "/latest.json?page=1"])
def test_a_304_to_a_request_that_was_not_conditional_is_a_clear_error(settings, serve, path):
    forum = DiscourseForum()

    def route(request):
        asked = request.path + (f"?page={request.params['page']}" if "page" in request.params else "")
        return Reply(304) if asked == path else forum(request)

    server = serve(route)
    ok, stats = run_once(topics_source(server.url, retries=0), settings, FakeProducer())
    assert not ok and f"{path.split('?')[0]}" in stats.last_error
    assert "HTTP 304 to a request that was not conditional" in stats.last_error  # not an AttributeError
