"""Polite HTTP for sources: timeouts, retries with backoff, Retry-After, a rate limit, conditional GET.

The access token travels in a header. Log lines and errors name the URL and never the
headers, so the token cannot leak through them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from producers.base import SourceConfig

log = logging.getLogger(__name__)


class FetchError(Exception):
    """A request that failed for good: retries spent, or a client error such as 401 or 404."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the last HTTP status, when the server answered


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


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
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = httpx.Client(
            timeout=timeout_s, headers={"User-Agent": user_agent, **(headers or {})}, follow_redirects=True
        )
        self.min_interval_s = 1.0 / rate_per_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep
        self._last_request = float("-inf")
        self._lock = threading.Lock()
        self._validators: dict[str, dict[str, str]] = {}  # URL → If-None-Match / If-Modified-Since

    @classmethod
    def for_source(cls, config: SourceConfig, headers: dict[str, str], **overrides) -> Http:
        return cls(
            user_agent=config.user_agent,
            timeout_s=config.timeout_s,
            rate_per_s=config.rate_per_s,
            retries=config.retries,
            backoff_s=config.backoff_s,
            max_backoff_s=config.max_backoff_s,
            headers=headers,
            **overrides,
        )

    def close(self) -> None:
        self.client.close()

    def _wait_for_rate_limit(self) -> None:
        with self._lock:
            delay = self._last_request + self.min_interval_s - time.monotonic()
            if delay > 0:
                self.sleep(delay)
            self._last_request = time.monotonic()

    def _backoff(self, attempt: int) -> float:
        # Jitter spreads the retries of many producers that failed at the same moment.
        return min(self.max_backoff_s, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)

    def get(self, url: str, params: dict | None = None, conditional: bool = False) -> httpx.Response | None:
        """GET with retries; None when a conditional GET finds nothing changed (304)."""
        request = self.client.build_request(
            "GET", url, params={k: v for k, v in (params or {}).items() if v is not None}
        )
        key = str(request.url)
        if conditional:
            request.headers.update(self._validators.get(key, {}))
        for attempt in range(self.retries + 1):
            self._wait_for_rate_limit()
            last_try = attempt == self.retries
            try:
                response = self.client.send(request)
            except httpx.TransportError as e:  # timeouts, refused or reset connections
                if last_try:
                    raise FetchError(f"GET {key}: {type(e).__name__} after {attempt + 1} tries") from None
                delay = self._backoff(attempt)
                log.warning("GET %s: %s; retrying in %.1fs", key, type(e).__name__, delay)
                self.sleep(delay)
                continue
            if response.status_code == 304:
                return None
            if response.is_success:
                if conditional:
                    self._remember_validators(key, response)
                return response
            if response.status_code == 429 or response.status_code >= 500:
                if last_try:
                    status = response.status_code
                    raise FetchError(f"GET {key}: HTTP {status} after {attempt + 1} tries", status)
                delay = self._backoff(attempt)
                if response.status_code == 429:
                    asked = retry_after_s(response.headers.get("Retry-After"))
                    delay = asked if asked is not None else delay  # the server knows best when it can take us again
                log.warning("GET %s: HTTP %d; retrying in %.1fs", key, response.status_code, delay)
                self.sleep(delay)
                continue
            raise FetchError(f"GET {key}: HTTP {response.status_code} {response.reason_phrase}", response.status_code)
        raise AssertionError("unreachable: the last try returns or raises")

    def _remember_validators(self, key: str, response: httpx.Response) -> None:
        validators = {}
        if etag := response.headers.get("ETag"):
            validators["If-None-Match"] = etag
        if modified := response.headers.get("Last-Modified"):
            validators["If-Modified-Since"] = modified
        self._validators[key] = validators
