"""What every source shares: its configuration, raw records, pages, and newest-first paging.

A source does two things. ``fetch(position)`` reads one page from the outside world and
says where the next page starts; ``map_item(item)`` turns one raw record into a
:class:`~canyu.schema.Post`. Everything else (publishing, dead letters, duplicates,
cursors, metrics) is the runner's job, the same for every source.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median_low
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationInfo, field_validator, model_validator

from canyu.dates import in_window
from canyu.schema import Post, utcnow
from canyu.settings import Settings, get_settings
from producers.http import Http

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"  # a Post.source, a file name and a metric label alike


class SourceConfig(BaseModel):
    """The settings every source has; each kind adds its own (its URL, page size ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, description="unique; the prefix of its post ids and its cursor's name")
    interval_s: float = Field(60.0, gt=0, description="seconds between polls once it has caught up")
    timeout_s: float = Field(10.0, gt=0, description="per HTTP request")
    rate_per_s: float = Field(1.0, gt=0, description="most HTTP requests per second to this source")
    retries: int = Field(4, ge=0, description="retries of a request after a network error, 5xx or 429")
    backoff_s: float = Field(1.0, gt=0, description="first retry delay; it doubles each time, with jitter")
    max_backoff_s: float = Field(60.0, gt=0, description="longest delay between retries (Retry-After may ask more)")
    max_retry_after_s: float = Field(300.0, gt=0, description="the longest wait a Retry-After header may ask")
    max_response_bytes: int = Field(10_000_000, ge=1024, description="larger responses are refused, not read")
    backfill_pages: int = Field(3, ge=1, description="pages read back into the past on the very first run")
    max_text_chars: int = Field(50_000, ge=1, description="longer posts go to the dead-letter queue")
    remember: int = Field(5_000, ge=100, description="recent post ids kept in the cursor to skip duplicates")
    user_agent: str = "canyu-producer/0.1 (+https://github.com/canyu/canyu; social listening)"
    token_env: str | None = Field(None, description="environment variable holding the access token")

    @field_validator("token_env")
    @classmethod
    def _token_is_set(cls, name: str | None) -> str | None:
        if name is not None and not os.environ.get(name):
            raise ValueError(f"environment variable {name} is not set (it should hold the access token)")
        return name

    def token(self) -> str | None:
        return os.environ[self.token_env] if self.token_env else None


class UrlSourceConfig(SourceConfig):
    """A source on the web. Its URL may be left out only to read a saved response (``--file``)."""

    url: HttpUrl | None = None

    @model_validator(mode="after")
    def _url_to_poll(self, info: ValidationInfo) -> UrlSourceConfig:
        if self.url is None and (info.context or {}).get("polling", True):
            raise ValueError("url is required to poll this source")
        return self


class IdMarkedConfig(UrlSourceConfig):
    """A source whose high-water mark is a post id (Weibo, Discourse): how far ahead of it an id may still move it."""

    max_id_ahead: int = Field(
        10**15, ge=1, description="an id further ahead of the mark (on a first run, of the page's median) is never it"
    )


@dataclass(frozen=True)
class Record:
    """One raw record as the source gave it: ``raw`` is kept for the dead-letter queue."""

    raw: bytes
    item: Any

    @classmethod
    def of(cls, item: dict) -> Record:
        return cls(raw=json.dumps(item, ensure_ascii=False).encode(), item=item)


@dataclass
class Page:
    records: list[Record]
    position: dict = field(default_factory=dict)  # where the next fetch starts, once this page is acknowledged
    more: bool = False  # another page is ready now: fetch it without waiting for the interval
    skipped: int = 0  # records the source returned that an earlier page already published


class BadPayload(Exception):
    """A whole response that cannot be read (not JSON, not the expected shape)."""

    def __init__(self, raw: bytes, reason: str):
        super().__init__(reason)
        self.raw = raw


def iso_time(value: str, field: str) -> datetime:
    """An ISO 8601 time that says its timezone (Discourse's ``created_at``, ``bumped_at`` ...)."""
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} {value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ValueError(f"{field} {value!r} has no timezone")
    return when


def in_id_shape(key: int, shape: tuple[int, int]) -> bool:
    """Whether ``key`` can be one of the source's ids at all: within its ``shape``, (lowest, highest)."""
    return shape[0] <= key <= shape[1]


def within_reach(keys: list[int | None], mark: int | None, ahead: int) -> list[int | None]:
    """The id keys that may move a high-water mark, the others None: none more than ``ahead`` past the ``mark``
    (on a first run, past the keys' median, so that one bogus id among real ones cannot pass them all)."""
    known = [key for key in keys if key is not None]
    reference = mark if mark is not None else (median_low(known) if known else 0)
    return [key if key is not None and key <= reference + ahead else None for key in keys]


MAX_DEPTH = 128  # arrays and objects inside each other: real pages nest a dozen levels, a hostile one a thousand


def nested_deeper_than(data: Any, limit: int) -> bool:
    """Whether ``data`` (parsed JSON) nests arrays and objects more than ``limit`` deep; walked without recursion."""
    stack = [(data, 1)] if isinstance(data, (dict, list)) else []
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_json(body: bytes) -> Any:
    """A JSON response, or BadPayload: invalid, or nested deeper than ``MAX_DEPTH`` (the parser itself gives up at
    Python's recursion limit with a RecursionError, which no retry fixes; every later step would recurse too)."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise BadPayload(body, f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:
        raise BadPayload(body, f"invalid JSON: {e}") from e
    if nested_deeper_than(data, MAX_DEPTH):
        raise BadPayload(body, f"JSON nested deeper than {MAX_DEPTH} levels")
    return data


class Source(ABC):
    kind: ClassVar[str]
    token_header: ClassVar[tuple[str, str]] = ("Authorization", "Bearer {}")  # (header, value) carrying the token

    def __init__(self, config: SourceConfig, http: Http | None = None, settings: Settings | None = None):
        self.config = config
        self.name = config.name
        self._http = http
        self._settings = settings

    @property
    def settings(self) -> Settings:
        """The pipeline's settings (the sane date window): given, or read on first use."""
        if self._settings is None:
            self._settings = get_settings()
        return self._settings

    @property
    def http(self) -> Http:
        if self._http is None:
            self._http = self.make_http()
        return self._http

    def make_http(self, **overrides) -> Http:
        """An HTTP client on this source's settings, carrying its token, that may reach the private hosts of
        ``fetch_allowed_hosts`` (``overrides``: e.g. a test's ``sleep``)."""
        config = self.config
        return Http(
            user_agent=config.user_agent,
            timeout_s=config.timeout_s,
            rate_per_s=config.rate_per_s,
            retries=config.retries,
            backoff_s=config.backoff_s,
            max_backoff_s=config.max_backoff_s,
            max_retry_after_s=config.max_retry_after_s,
            max_response_bytes=config.max_response_bytes,
            headers=self.auth_headers(),
            **{"allowed_hosts": self.settings.producers.allowed_hosts, **overrides},
        )

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def auth_headers(self) -> dict[str, str]:
        """Headers that carry the access token (never the URL, which ends up in logs)."""
        token = self.config.token()
        return {self.token_header[0]: self.token_header[1].format(token)} if token else {}

    @abstractmethod
    def records(self, body: bytes, content_type: str | None = None) -> list[Record]:
        """Every record in one saved or fetched response."""

    @abstractmethod
    def fetch(self, position: dict) -> Page:
        """Read the page that starts at ``position`` (``{}`` on the very first run)."""

    @abstractmethod
    def map_item(self, item: Any) -> Post:
        """One raw record as a Post; raises on a record that cannot be one."""


class PagedSource(Source):
    """A source that lists newest first and pages back in time (Weibo, Discourse, Reddit).

    A sweep reads from the newest page back to the high-water mark of the previous
    sweep. The position is ``{"high", "top", "next", "pages"}``: the newest order key
    already published, the newest one seen in this sweep, the token of the next page,
    and how many pages this sweep has read. Saved after every page, it lets a restart
    continue the sweep where it stopped. Only a key that makes sense moves the mark
    (``marks``): a date in the sane window, an id of the source's shape and in reach.
    """

    id_shape: ClassVar[tuple[int, int] | None] = None  # (lowest, highest) of an id that ``order`` returns; None: a date

    @abstractmethod
    def request(self, token: str | None, high: str | None) -> bytes | None:
        """The body of one page, or None when the source says nothing changed (304)."""

    @abstractmethod
    def items(self, body: bytes) -> tuple[list[dict], str | None]:
        """The page's top-level items, newest first, and the token of the next (older) page."""

    @abstractmethod
    def order(self, item: dict) -> int:
        """A number that grows with time, to compare with the high-water mark."""

    def order_time(self, item: dict) -> datetime | None:
        """The date that ``order`` stands for, when it is one (Reddit's ``created_utc``); None for an id."""
        return None

    def get_page(self, url: str, params: dict, token: str | None) -> bytes | None:
        # Only the newest page can be "not modified" since the last poll; older ones are read once a sweep.
        response = self.http.get(url, params, conditional=token is None)
        return response.content if response is not None else None

    def expand(self, item: dict) -> list[dict]:
        """The records one top-level item stands for (a Weibo repost carries its original)."""
        return [item]

    def complete(self, record: dict) -> dict:
        """A polled record with what the page left out (a long Weibo status's full text); saved files stay as saved."""
        return record

    def records(self, body: bytes, content_type: str | None = None) -> list[Record]:
        items, _ = self.items(body)
        return [Record.of(record) for item in items for record in self.expand(item)]

    def _order_or_none(self, item: dict, fetched_at: datetime | None = None) -> int | None:
        """The item's order key; None when it has none, when it is a date out of the sane window
        (``canyu.dates.in_window``), or an id outside the source's ``id_shape``."""
        try:
            key = self.order(item)
            when = self.order_time(item)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return None
        if when is not None:
            return key if in_window(when, fetched_at or utcnow(), self.settings) else None
        if self.id_shape is not None and not in_id_shape(key, self.id_shape):
            return None
        return key

    def marks(self, items: list[dict], high: int | None, fetched_at: datetime) -> list[int | None]:
        """Each item's order key where it may move the high-water mark, else None: the one rule for dates and ids.

        None for an item without a key, a date out of the sane window, or an id outside the source's shape or too
        far ahead (``within_reach``). Such an item is still published or dead-lettered; it never becomes the mark,
        so one bogus date or id cannot stall the source by standing above every real post to come."""
        keys = [self._order_or_none(item, fetched_at) for item in items]
        return keys if self.id_shape is None else within_reach(keys, high, self.config.max_id_ahead)

    def fetch(self, position: dict) -> Page:
        high = int(position["high"]) if position.get("high") else None
        if high is not None and self.id_shape is not None and not in_id_shape(high, self.id_shape):
            high = None  # a mark that an older canyu took from a bogus id: read as on a first run
        pages = position.get("pages", 0) + 1
        body = self.request(position.get("next"), str(high) if high is not None else None)
        items, token = self.items(body) if body else ([], None)
        fetched_at = utcnow()
        orders = self.marks(items, high, fetched_at)
        fresh = [item for item, key in zip(items, orders, strict=True) if high is None or key is None or key >= high]
        earlier_top = [int(position["top"])] if position.get("top") else []
        top = max([*earlier_top, *(key for key in orders if key is not None)], default=None)
        # The sweep ends at the last page, at posts an earlier sweep published, or after the first run's backfill.
        reached_old_posts = len(fresh) < len(items)
        first_run_done = high is None and pages >= self.config.backfill_pages
        if not fresh or reached_old_posts or token is None or first_run_done:
            newest = max((k for k in (high, top) if k is not None), default=None)
            next_position = {"high": str(newest)} if newest is not None else {}
            more = False
        else:
            next_position = {"high": position.get("high"), "top": str(top), "next": token, "pages": pages}
            more = True
        records = [Record.of(self.complete(record)) for item in fresh for record in self.expand(item)]
        return Page(records, next_position, more=more, skipped=len(items) - len(fresh))
