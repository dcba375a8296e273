"""Polite HTTP for sources: timeouts, retries with backoff, Retry-After, a rate limit, conditional GET.

Retries follow the runtime's one :class:`~canyu_runtime.retry.RetryPolicy`; a source builds its
``Http`` from its own settings (``Source.make_http``).

The access token travels in a header. Log lines and errors name the URL and never the
headers, so the token cannot leak through them. Redirects are followed here, not by httpx:
on a redirect to another origin (scheme, host or port) the credential headers (the
source's token headers, ``Authorization``, ``Cookie``) are left behind, whatever their
names (Discourse's ``Api-Key`` and ``Api-Username`` too).

Every URL is reached through the runtime's one outbound guard (``canyu_runtime.outbound``):
a source's URL comes from a sources file or an import, and must not reach into the operator's
own network. A non-public address (loopback, private, link-local, in any of its IPv6
spellings), at the first request or at any redirect, fails the request for good, unless its
host is in ``fetch_allowed_hosts`` (an on-premises forum).

A response body is read up to ``max_response_bytes``, counted once decoded, in bounded
memory (``canyu_runtime.decoding``): a larger one, one with two content codings or more, or
one in a coding it did not ask for, fails the request with an error that says why. A ``Retry-After`` wait is capped at
``max_retry_after_s``: a server cannot park a source for a day.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection

import httpx

from canyu_runtime.decoding import ACCEPT_ENCODING, BodyRefused, TooLarge, read_decoded
from canyu_runtime.errors import RetryLater
from canyu_runtime.outbound import GuardedTransport, Refused, check_url
from canyu_runtime.retry import RetryPolicy, retry_after_s

log = logging.getLogger(__name__)
MAX_REDIRECTS = 10
CREDENTIALS = ("authorization", "cookie", "proxy-authorization")  # never sent to another origin


class FetchError(Exception):
    """A request that failed for good: retries spent, or a client error such as 401 or 404."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the last HTTP status, when the server answered


class TryAgain(RetryLater):
    """A failure the next try may not have: a network error, a 5xx, or a 429 (which may say when)."""

    def __init__(self, message: str, status: int | None = None, retry_after_s: float | None = None):
        super().__init__(message, retry_after_s)
        self.status = status


class Http:
    def __init__(
        self,
        *,
        user_agent: str,
        timeout_s: float = 10.0,
        rate_per_s: float = 1.0,
        retries: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        headers: dict[str, str] | None = None,
        max_response_bytes: int = 10_000_000,
        max_retry_after_s: float = 300.0,
        allowed_hosts: Collection[str] = (),
        sleep: Callable[[float], None] = time.sleep,
    ):
        """``headers`` carry credentials (the source's token): they go only to the origin that was asked.
        ``allowed_hosts`` may be private (the ``fetch_allowed_hosts`` setting)."""
        self.client = httpx.Client(
            timeout=timeout_s,
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING, **(headers or {})},
            follow_redirects=False,
            transport=GuardedTransport(allowed_hosts, "fetch_allowed_hosts"),
        )
        self.credentials = {*CREDENTIALS, *(name.lower() for name in headers or {})}
        self.max_response_bytes = max_response_bytes
        self.max_retry_after_s = max_retry_after_s
        self.min_interval_s = 1.0 / rate_per_s
        self.retry = RetryPolicy(first_s=backoff_s, max_s=max_backoff_s, attempts=retries + 1)
        self.sleep = sleep
        self._last_request = float("-inf")
        self._lock = threading.Lock()
        self._validators: dict[str, dict[str, str]] = {}  # URL → If-None-Match / If-Modified-Since

    def close(self) -> None:
        self.client.close()

    def _wait_for_rate_limit(self) -> None:
        with self._lock:
            delay = self._last_request + self.min_interval_s - time.monotonic()
            if delay > 0:
                self.sleep(delay)
            self._last_request = time.monotonic()

    def get(self, url: str, params: dict | None = None, conditional: bool = False) -> httpx.Response | None:
        """GET with retries; None only when a conditional GET finds nothing changed (304): callers that ask
        unconditionally always get a response (a 304 to them is a FetchError)."""
        request = self.client.build_request(
            "GET", url, params={k: v for k, v in (params or {}).items() if v is not None}
        )
        key = str(request.url)
        if conditional:
            request.headers.update(self._validators.get(key, {}))

        def attempt() -> httpx.Response | None:
            self._wait_for_rate_limit()
            try:
                response = self._send(request, key)
            except httpx.TransportError as e:  # timeouts, refused or reset connections
                raise TryAgain(type(e).__name__) from None
            status = response.status_code
            if status == 304 and conditional:
                return None
            if status == 304:  # a "not modified" to a request that had nothing to compare with: no page at all
                raise FetchError(f"GET {key}: HTTP 304 to a request that was not conditional", status)
            if response.is_success:
                if conditional:
                    self._remember_validators(key, response)
                return response
            if status == 429:  # the server knows best when it can take us again, up to a point
                asked = retry_after_s(response.headers.get("Retry-After"))
                raise TryAgain(f"HTTP {status}", status, None if asked is None else min(asked, self.max_retry_after_s))
            if status >= 500:
                raise TryAgain(f"HTTP {status}", status)
            raise FetchError(f"GET {key}: HTTP {status} {response.reason_phrase}", status)

        try:
            return self.retry.call(attempt, what=f"GET {key}", retry_on=TryAgain, sleep=self.sleep, logger=log)
        except TryAgain as e:
            raise FetchError(f"GET {key}: {e} after {self.retry.attempts} tries", e.status) from None
        except Refused as e:  # the outbound guard's: no retry makes a private address public
            raise FetchError(f"GET {key}: refused: {e}") from None

    def _send(self, request: httpx.Request, key: str) -> httpx.Response:
        """Send, following redirects (credentials stay with their origin); a success's body read, capped."""
        origin = request.url.scheme, request.url.host, request.url.port
        for _ in range(MAX_REDIRECTS + 1):
            check_url(str(request.url))  # a redirect may name another scheme (file:, gopher:)
            response = self.client.send(request, stream=True)
            try:
                if response.next_request is None:
                    return self._read(response, key) if response.is_success else response
            finally:
                response.close()
            request = response.next_request
            if (request.url.scheme, request.url.host, request.url.port) != origin:
                for name in [name for name in request.headers if name.lower() in self.credentials]:
                    del request.headers[name]
        raise FetchError(f"GET {key}: more than {MAX_REDIRECTS} redirects")

    def _read(self, response: httpx.Response, key: str) -> httpx.Response:
        """The response with its whole (decoded) body, or FetchError when it is over ``max_response_bytes``
        decoded, or its content coding is refused."""
        try:
            body = read_decoded(response.iter_raw(), response.headers.get("content-encoding"), self.max_response_bytes)
        except TooLarge:
            raise FetchError(
                f"GET {key}: the response is over {self.max_response_bytes} bytes decoded "
                "(the source's max_response_bytes); it was not read",
                response.status_code,
            ) from None
        except BodyRefused as e:
            raise FetchError(f"GET {key}: {e}", response.status_code) from None
        decoded = ("content-encoding", "content-length", "transfer-encoding")  # the body below is decoded
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in decoded]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=body,
            request=response.request,
            extensions={"reason_phrase": response.reason_phrase.encode()},
        )

    def _remember_validators(self, key: str, response: httpx.Response) -> None:
        validators = {}
        if etag := response.headers.get("ETag"):
            validators["If-None-Match"] = etag
        if modified := response.headers.get("Last-Modified"):
            validators["If-Modified-Since"] = modified
        self._validators[key] = validators
