"""HTTP etiquette against a local server: retries, Retry-After, timeouts, rate limit, conditional GET, headers."""

from __future__ import annotations

import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import Callable

import pytest

from producers.http import FetchError, Http, retry_after_s
from tests.unit.producers.helpers import LOCAL, FixtureServer, Reply


@pytest.fixture
def scripted(serve) -> Callable[..., FixtureServer]:
    """``scripted(*replies)``: a server that gives these replies in turn, then repeats the last one."""

    def start(*replies: Reply) -> FixtureServer:
        queue = list(replies)
        return serve(lambda request: queue.pop(0) if len(queue) > 1 else queue[0])

    return start


@pytest.fixture
def sleeps():
    return []


def http(sleeps, **options) -> Http:
    defaults = {
        "user_agent": "canyu-test/1 (+tests)",
        "backoff_s": 1.0,
        "retries": 3,
        "rate_per_s": 1e6,
        "allowed_hosts": LOCAL,
    }
    return Http(**{**defaults, **options}, sleep=sleeps.append)


def test_5xx_is_retried_with_growing_jittered_backoff(sleeps, scripted):
    server = scripted(Reply(503), Reply(502), Reply(200, b"ok"))
    response = http(sleeps).get(server.url + "/x")
    assert response.content == b"ok" and len(server.requests) == 3
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0  # backoff 1s then 2s, each jittered down to half


def test_429_waits_as_long_as_retry_after_says(sleeps, scripted):
    server = scripted(Reply(429, headers={"Retry-After": "7"}), Reply(200, b"ok"))
    response = http(sleeps, max_backoff_s=2).get(server.url + "/x")
    assert response.content == b"ok"
    assert sleeps == [7.0]  # the server's word, even past our own longest backoff


def test_retry_after_as_an_http_date():
    from datetime import datetime, timezone

    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_s("Fri, 27 Nov 2026 12:00:30 GMT", now) == 30
    assert retry_after_s("soon", now) is None and retry_after_s(None) is None


def test_a_server_that_keeps_failing_is_a_clear_error_after_the_retries(sleeps, scripted):
    server = scripted(Reply(500))
    with pytest.raises(FetchError, match=r"HTTP 500 after 4 tries"):
        http(sleeps).get(server.url + "/x")
    assert len(server.requests) == 4 and len(sleeps) == 3


def test_a_client_error_is_not_retried(sleeps, scripted):
    server = scripted(Reply(401))
    with pytest.raises(FetchError, match="HTTP 401 Unauthorized"):
        http(sleeps).get(server.url + "/x")
    assert len(server.requests) == 1 and sleeps == []


def test_network_errors_are_retried_then_reported(sleeps):
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/x"
    with pytest.raises(FetchError, match="ConnectError after 3 tries"):
        http(sleeps, retries=2).get(url)
    assert len(sleeps) == 2


def test_every_request_has_a_timeout(sleeps, serve):
    server = serve(lambda request: time.sleep(0.5) or Reply(200, b"late"))
    with pytest.raises(FetchError, match="ReadTimeout after 1 tries"):
        http(sleeps, timeout_s=0.1, retries=0).get(server.url + "/x")


def test_user_agent_and_token_header_are_sent(sleeps, scripted):
    server = scripted(Reply(200, b"ok"))
    http(sleeps, headers={"Authorization": "OAuth2 s3cret"}).get(server.url + "/x", {"count": 5, "max_id": None})
    (request,) = server.requests
    assert request.headers["user-agent"] == "canyu-test/1 (+tests)"
    assert request.headers["authorization"] == "OAuth2 s3cret"
    assert request.params == {"count": "5"}  # unset parameters are left out, not sent empty


def test_conditional_get_sends_the_validators_and_reads_304_as_unchanged(sleeps, serve):
    def route(request):
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(200, b"feed", {"ETag": '"v1"', "Last-Modified": "Fri, 27 Nov 2026 12:00:00 GMT"})

    server = serve(route)
    client = http(sleeps)
    assert client.get(server.url + "/feed", conditional=True).content == b"feed"
    assert client.get(server.url + "/feed", conditional=True) is None
    assert client.get(server.url + "/feed").content == b"feed"  # not conditional: always the full body
    assert server.requests[1].headers["if-modified-since"] == "Fri, 27 Nov 2026 12:00:00 GMT"


def test_the_rate_limit_spaces_requests(sleeps, scripted):
    server = scripted(Reply(200, b"ok"))
    client = http(sleeps, rate_per_s=2)  # at most one request every 0.5s
    client.get(server.url + "/a")
    client.get(server.url + "/b")
    assert len(sleeps) == 1 and 0.3 < sleeps[0] <= 0.5


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zeros_gzipped(megabytes: int) -> bytes:
    """A gzip bomb: ``megabytes`` MB of zeros, about a thousandth of that on the wire, made without holding it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(packer.compress(bytes(1 << 20)) for _ in range(megabytes)) + packer.flush()


def test_gzip_and_deflate_bodies_are_decoded(sleeps, scripted):
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    server = scripted(
        Reply(200, gzipped(b"feed"), {"Content-Encoding": "gzip"}),
        Reply(200, zlib.compress(b"feed"), {"Content-Encoding": "deflate"}),
        Reply(200, raw_deflate.compress(b"feed") + raw_deflate.flush(), {"Content-Encoding": "deflate"}),
    )
    client = http(sleeps)
    assert [client.get(server.url + "/x").content for _ in range(3)] == [b"feed"] * 3
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"  # never br or zstd, which it would refuse


@pytest.mark.parametrize("coding", ["gzip, gzip", "gzip,deflate", "br"])
def test_a_body_in_two_content_codings_or_one_not_asked_for_is_refused(sleeps, scripted, coding):
    body = gzipped(gzipped(b"feed")) if coding == "gzip, gzip" else gzipped(b"feed")
    server = scripted(Reply(200, body, {"Content-Encoding": coding}))
    with pytest.raises(FetchError, match="content coding"):
        http(sleeps).get(server.url + "/x")


def test_a_gzip_bomb_is_cut_at_the_limit_counting_decoded_bytes_in_bounded_memory(sleeps, scripted):
    server = scripted(Reply(200, gzipped(b"warm-up")), Reply(200, zeros_gzipped(64), {"Content-Encoding": "gzip"}))
    client = http(sleeps, max_response_bytes=1_000_000)
    client.get(server.url + "/warm-up")  # the first request's imports and buffers are not the body's
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="over 1000000 bytes decoded.*max_response_bytes"):
            client.get(server.url + "/bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Reading holds the limit and a piece (2 MB); the test's server thread adds up to 10 MB. Decoding each wire
    # chunk whole, as httpx does, took 148 MB here.
    assert peak < 32_000_000
