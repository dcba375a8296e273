"""Test doubles for producers: recorded payloads served by pytest-httpserver, and an in-memory Kafka producer."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import werkzeug
from kafka.errors import KafkaTimeoutError
from pytest_httpserver import HTTPServer

from canyu.schema import DeadLetter, Post
from producers.metrics import SourceStats
from producers.runner import Publisher, poll
from producers.sources import build, source_config
from producers.state import CursorStore

FIXTURES = Path(__file__).parents[2] / "fixtures" / "producers"
LOCAL = ("localhost", "127.0.0.1")  # where the test servers listen: private, so allowed by name (fetch_allowed_hosts)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Request:
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    query: list[tuple[str, str]] = field(default_factory=list)  # every pair, repeated keys too (post_ids[]=…)

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[Request], Reply]


class FixtureServer:
    """Answers each request to pytest-httpserver's ``httpserver`` with ``route(request)``.

    ``hold`` (a predicate) makes matching requests wait until ``release()``: tests kill a
    producer while its request for the next page is in flight.
    """

    def __init__(self, httpserver: HTTPServer, route: Route):
        self.route = route
        self.url = httpserver.url_for("/").rstrip("/")
        self.requests: list[Request] = []
        self.hold: Callable[[Request], bool] = lambda request: False
        self.holding = threading.Event()
        self._released = threading.Event()
        httpserver.expect_request(re.compile("/.*")).respond_with_handler(self._answer)

    def _answer(self, incoming: werkzeug.Request) -> werkzeug.Response:
        query = parse_qsl(incoming.query_string.decode())
        request = Request(incoming.path, dict(query), {k.lower(): v for k, v in incoming.headers.items()}, query)
        self.requests.append(request)
        if self.hold(request):
            self.holding.set()
            self._released.wait(30)
        reply = self.route(request)
        status = f"{reply.status} {HTTPStatus(reply.status).phrase}"  # as servers say it, not werkzeug's UPPER CASE
        response = werkzeug.Response(reply.body, status, reply.headers)
        if "content-type" not in {name.lower() for name in reply.headers}:
            del response.headers["Content-Type"]  # no made-up charset to override what the body says of itself
        return response

    def release(self) -> None:
        self._released.set()


@pytest.fixture(name="serve")
def serving(httpserver: HTTPServer) -> Iterator[Callable[[Route], FixtureServer]]:
    """``serve(route)``: a :class:`FixtureServer` for this test; requests it still holds are let go at the end."""
    servers: list[FixtureServer] = []

    def start(route: Route) -> FixtureServer:
        servers.append(FixtureServer(httpserver, route))
        return servers[-1]

    yield start
    for server in servers:
        server.release()


def page_router(param: str, pages: dict[str | None, str], content_type: str = "application/json") -> Callable:
    """Serve the recorded page named by the value of ``param`` (None: the request without it)."""

    def route(request: Request) -> Reply:
        name = pages.get(request.params.get(param))
        if name is None:
            return Reply(404, b'{"error": "no such page"}')
        return Reply(200, fixture(name), {"Content-Type": content_type})

    return route


# The recorded sequences, as the real APIs page through them.
WEIBO_PAGES = {None: "weibo/page1.json", "9007199254740989": "weibo/page2.json",
               "9007199254740969": "weibo/page3.json", "9007199254740949": "weibo/empty.json"}  # fmt: skip
DISCOURSE_PAGES = {None: "discourse/posts-page1.json", "118": "discourse/posts-page2.json",
                   "116": "discourse/posts-page3.json", "112": "discourse/posts-empty.json"}  # fmt: skip
REDDIT_PAGES = {None: "reddit/new-page1.json", "t3_1h9x2zz": "reddit/new-page2.json",
                "t3_1h9x1yy": "reddit/new-page3.json"}  # fmt: skip


def weibo_route(request: Request) -> Reply:
    if "since_id" in request.params and "max_id" not in request.params:
        return Reply(200, fixture("weibo/empty.json"), {"Content-Type": "application/json"})  # nothing newer
    return page_router("max_id", WEIBO_PAGES)(request)


def json_reply(name: str) -> Reply:
    return Reply(200, fixture(name), {"Content-Type": "application/json"})


def weibo_long_text_route(show: Callable[[Request], Reply] | None = None) -> Callable[[Request], Reply]:
    """A timeline of long statuses, and statuses/show.json beside it (``show`` replaces it, to fail)."""

    def route(request: Request) -> Reply:
        if request.path.endswith("/show.json"):
            return show(request) if show else json_reply(f"weibo/show-{request.params['id']}.json")
        paged = "since_id" in request.params or "max_id" in request.params
        return json_reply("weibo/empty.json" if paged else "weibo/long.json")

    return route


class DiscourseForum:
    """A Discourse forum on recorded pages: ``/latest.json``, ``/t/{id}.json`` and ``/t/{id}/posts.json?post_ids[]=…``.

    Setting ``later`` moves it on: topics 9 and 7 get a reply and topic 10 is new.
    """

    # Every post (``topic/number``) at first, but 7/2 whose date cannot be read, and the posts that come later.
    POSTS = {"3/1", *(f"9/{n}" for n in range(1, 24)), "7/1", "7/3", "7/4", "8/1", "8/2", "5/1"}
    LATER_POSTS = {"9/24", "10/1", "7/5"}

    TOPICS = FIXTURES / "discourse" / "topics"
    LISTING = {(False, None): "latest.json", (False, "1"): "latest-page1.json",
               (True, None): "latest-later.json", (True, "1"): "latest-later-page1.json"}  # fmt: skip

    def __init__(self):
        self.later = False

    def topic(self, topic_id: str) -> str | None:
        names = [f"t-{topic_id}-later.json"] * self.later + [f"t-{topic_id}.json"]
        return next((name for name in names if (self.TOPICS / name).is_file()), None)

    def __call__(self, request: Request) -> Reply:
        parts = request.path.strip("/").removesuffix(".json").split("/")
        name = None
        if parts == ["latest"]:
            name = self.LISTING.get((self.later, request.params.get("page")))
        elif parts[0] == "t" and len(parts) == 2:
            name = self.topic(parts[1])
        elif parts[0] == "t" and parts[2:] == ["posts"]:  # the posts of these ids, as the topic has them now
            wanted = {int(i) for i in request.values("post_ids[]")}
            posts = json.loads(fixture(f"discourse/topics/t-{parts[1]}-posts.json"))["post_stream"]["posts"]
            found = {"post_stream": {"posts": [p for p in posts if p["id"] in wanted]}, "id": int(parts[1])}
            return Reply(200, json.dumps(found, ensure_ascii=False).encode(), {"Content-Type": "application/json"})
        if name is None:
            return Reply(404, b'{"errors": ["The requested URL or resource could not be found."]}')
        return json_reply(f"discourse/topics/{name}")


class FakeFuture:
    def __init__(self, error: Exception | None = None):
        self.error = error

    def get(self, timeout=None):
        if self.error:
            raise self.error
        return None


class FakeProducer:
    """Kafka as far as a producer can tell: it keeps what it was sent, and can refuse."""

    def __init__(self):
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.refuse = False

    def send(self, topic: str, key: bytes, value: bytes):
        if self.refuse:
            return FakeFuture(KafkaTimeoutError("broker unreachable"))
        self.sent.append((topic, key, value))
        return FakeFuture()

    def posts(self) -> list[Post]:
        return [Post.model_validate_json(v) for t, _, v in self.sent if t.endswith("posts.raw")]

    def dead_letters(self) -> list[DeadLetter]:
        return [DeadLetter.model_validate_json(v) for t, _, v in self.sent if t.endswith("dead-letters")]


def make_source(kind: str, url: str, sleeps: list | None = None, **options):
    """A source as the sources file would make it, with quick retries and an Http that does not sleep."""
    defaults = {"name": kind, "url": url, "backoff_s": 0.01, "max_backoff_s": 0.02, "interval_s": 0.01, "retries": 2}
    source = build(source_config(kind, {**defaults, **options}))
    sleep = sleeps.append if sleeps is not None else lambda seconds: None
    return type(source)(source.config, http=source.make_http(sleep=sleep, allowed_hosts=LOCAL))


def run_once(source, settings, producer) -> tuple[bool, SourceStats]:
    stats = SourceStats(source.name, source.kind)
    store = CursorStore.for_source(settings, source.name)
    ok = poll(source, Publisher(producer, settings, source), store, stats, settings, threading.Event(), once=True)
    return ok, stats


def native_ids(producer: FakeProducer, name: str) -> list[str]:
    return [post.id.removeprefix(f"{name}:") for post in producer.posts()]
