"""Source connectors on the real Kafka broker: keys, dead letters, and exactly once across a kill."""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.request

import pytest

from canyu import topics
from canyu.schema import DeadLetter, Post
from producers.replay import sample_corpus
from producers.runner import run_sources
from producers.sources import build, load_sources_file
from producers.state import CursorStore
from tests.integration.conftest import env_for, free_port, read_topic, wait_for
from tests.unit.producers.helpers import (
    DISCOURSE_PAGES,
    FIXTURES,
    LOCAL,
    REDDIT_PAGES,
    DiscourseForum,
    Reply,
    fixture,
    page_router,
    serving,  # noqa: F401 - the fixture `serve`
    weibo_route,
)

TOKEN = "tok-integration-5e4d3c2b1a"
QUICK = "interval_s: 0.2, backoff_s: 0.05, max_backoff_s: 0.2, rate_per_s: 100, backfill_pages: 10"
WEIBO_IDS = {"9007199254740995", "9007199254740001", "9007199254740993", "9007199254740990", "9007199254740980",
             "9007199254740970", "9007199254740960", "9007199254740950"}  # fmt: skip


@pytest.fixture
def settings(ns, tmp_path):
    return ns.replace(home=tmp_path / "home", fetch_allowed_hosts=list(LOCAL))


def dead_letters(settings) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(r.value) for r in read_topic(settings, settings.topic(topics.DEAD_LETTERS))]


def records_by_key(settings, topic: str) -> dict[bytes, list]:
    found: dict[bytes, list] = {}
    for record in read_topic(settings, settings.topic(topic)):
        found.setdefault(record.key, []).append(record)
    return found


def produce(settings, config, log, *args) -> subprocess.Popen:
    env = env_for(settings, CANYU_TEST_WEIBO_TOKEN=TOKEN)
    return subprocess.Popen([sys.executable, "-m", "canyu_cli", "produce", "--config", str(config), *args], env=env,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def test_a_producer_killed_between_pages_resumes_and_publishes_each_post_once(settings, tmp_path, serve):
    server = serve(weibo_route)
    server.hold = lambda request: request.params.get("max_id") == "9007199254740969"  # the request for page 3
    config = tmp_path / "sources.yaml"
    url = f"{server.url}/2/statuses/home_timeline.json"
    config.write_text(f"sources:\n  - {{name: weibo-main, kind: weibo, url: '{url}',"
                      f" token_env: CANYU_TEST_WEIBO_TOKEN, count: 3, {QUICK}}}\n")  # fmt: skip
    metrics_port = free_port()
    log_path = tmp_path / "produce.log"
    with log_path.open("wb") as log:
        first = produce(settings, config, log, "--metrics-port", str(metrics_port))
        try:
            assert server.holding.wait(60), "the producer never asked for page 3"
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
            assert 'canyu_producer_published_total{source="weibo-main"} 6.0' in metrics
        finally:
            first.kill()  # SIGKILL: no clean-up, as in a crash
            first.wait()
        server.hold = lambda request: False
        server.release()
        position = CursorStore.for_source(settings, "weibo-main").load().position
        assert position["next"] == "9007199254740969"  # pages 1 and 2 were acknowledged, then saved
        second = produce(settings, config, log, "--once")
        assert second.wait(120) == 0

    posts = records_by_key(settings, topics.POSTS_RAW)
    assert set(posts) == {f"weibo-main:{i}".encode() for i in WEIBO_IDS}
    assert all(len(copies) == 1 for copies in posts.values())  # exactly once, across the kill
    repost = Post.model_validate_json(posts[b"weibo-main:9007199254740995"][0].value)
    assert repost.repost_of == "weibo-main:9007199254740001"
    letters = dead_letters(settings)
    assert sorted(d.reason for d in letters) == [
        "created_at 'yesterday 18:00' is not like 'Tue May 31 17:46:55 +0800 2011'", "missing field 'id'"]  # fmt: skip
    assert all(d.source == "weibo-main" and d.stage == "produce" and b'"text"' in d.raw() for d in letters)
    assert all(r.headers["authorization"] == f"OAuth2 {TOKEN}" for r in server.requests)
    output = log_path.read_text()
    assert "weibo-main: fetched" in output  # the status line
    assert TOKEN not in output


def test_a_discourse_topics_sweep_killed_between_topics_resumes_and_follows_new_posts_once(settings, tmp_path, serve):
    forum = DiscourseForum()
    server = serve(forum)
    server.hold = lambda request: request.path == "/t/9/posts.json"  # topic 3 is done, topic 9 half read
    config = tmp_path / "sources.yaml"
    config.write_text(
        f"sources:\n  - {{name: forum-topics, kind: discourse, mode: topics, url: '{server.url}', {QUICK}}}\n"
    )
    with (tmp_path / "produce.log").open("wb") as log:
        first = produce(settings, config, log)
        try:
            assert server.holding.wait(60), "the producer never asked for the posts past topic 9's first chunk"
        finally:
            first.kill()
            first.wait()
        server.hold = lambda request: False
        server.release()
        position = CursorStore.for_source(settings, "forum-topics").load().position
        assert [topic for topic, _, _ in position["queue"]] == ["9", "7", "8", "5"]
        assert produce(settings, config, log, "--once").wait(120) == 0
        forum.later = True
        assert produce(settings, config, log, "--once").wait(120) == 0

    posts = records_by_key(settings, topics.POSTS_RAW)
    assert set(posts) == {f"forum-topics:{p}".encode() for p in DiscourseForum.POSTS | DiscourseForum.LATER_POSTS}
    assert all(len(copies) == 1 for copies in posts.values())  # exactly once, across the kill and the later sweep
    assert Post.model_validate_json(posts[b"forum-topics:9/24"][0].value).title == "X5 battery megathread 🔋"
    letters = dead_letters(settings)
    assert [d.reason for d in letters] == ["created_at 'not a date' is not an ISO 8601 time"]


def test_every_kind_of_source_runs_concurrently_into_kafka(settings, tmp_path, serve):
    feeds = {"/forum.php": fixture("rss/discuz-gb2312.xml")}
    forum, reddit = page_router("before", DISCOURSE_PAGES), page_router("after", REDDIT_PAGES)

    def route(request):
        if request.path == "/posts.json":
            return forum(request)
        if request.path == "/r/AndroidPhones/new.json":
            return reddit(request)
        return Reply(200, feeds[request.path], {"Content-Type": "application/rss+xml"})

    server = serve(route)
    config = tmp_path / "sources.yaml"
    config.write_text(f"""sources:
  - {{name: forum, kind: discourse, url: '{server.url}', {QUICK}}}
  - {{name: bbs, kind: rss, url: '{server.url}/forum.php?mod=rss&fid=2', {QUICK}}}
  - {{name: reddit, kind: reddit, url: '{server.url}/r/AndroidPhones/new.json', {QUICK}}}
  - {{name: sample, kind: replay, path: '{sample_corpus()}', lines_per_page: 100}}
""")
    lines = []
    for _ in range(2):  # the second run finds nothing new
        sources = [build(c, settings) for c in load_sources_file(config)]
        assert run_sources(sources, settings, threading.Event(), once=True, report=lines.append)

    posts = records_by_key(settings, topics.POSTS_RAW)
    sample_ids = {Post.model_validate_json(line).id.encode() for line in sample_corpus().read_bytes().splitlines()}
    expected = {b"forum:7/4", b"forum:8/2", b"forum:7/3", b"forum:8/1", b"forum:7/1", b"bbs:52013", b"bbs:52011",
                b"reddit:t3_1h9x3kq", b"reddit:t1_m1abcd7", b"reddit:t3_1h9x2zz", b"reddit:t3_1h9x2aa",
                b"reddit:t3_1h9x1yy", b"reddit:t3_1h9x0aa"} | sample_ids  # fmt: skip
    assert set(posts) == expected
    assert all(len(copies) == 1 for copies in posts.values())
    assert all(Post.model_validate_json(copies[0].value).id.encode() == key for key, copies in posts.items())
    letters = dead_letters(settings)
    assert sorted(d.source for d in letters) == ["bbs", "forum", "reddit"]  # the feed's bad item only once
    n = len(sample_ids)
    assert any(line.startswith(f"sample: fetched {n}, published {n}") for line in lines)


def test_importing_a_saved_response_publishes_it_once(settings):
    command = [sys.executable, "-m", "canyu_cli", "produce", "weibo", "--file", str(FIXTURES / "weibo/page1.json")]
    done = subprocess.run(command, env=env_for(settings), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "published 4, duplicates 0, failed 0" in done.stdout
    wait_for(lambda: len(read_topic(settings, settings.topic(topics.POSTS_RAW))) == 4, timeout=30, what="4 posts")


def test_canyu_replay_sends_bad_lines_to_the_dlq_and_publishes_the_rest(settings, tmp_path):
    from producers.replay import replay

    good = sample_corpus().read_bytes().splitlines()[:3]
    path = tmp_path / "posts.jsonl"
    path.write_bytes(b"\n".join([good[0], b'{"id": "broken', *good[1:]]) + b"\n")
    result = replay(path, settings, progress=False)
    assert result.published == 3 and result.rejected[0][0] == 2 and not result.unacknowledged
    (letter,) = dead_letters(settings)
    assert letter.raw() == b'{"id": "broken' and letter.reason.startswith("line 2: ") and letter.source == "replay"
    assert len(read_topic(settings, settings.topic(topics.POSTS_RAW))) == 3
