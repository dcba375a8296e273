"""The two kinds of failure every room tells apart: one a retry may fix, one it never will."""

from __future__ import annotations


class RetryLater(Exception):
    """A transient failure: the other side answered, but asks us to come back (429, 5xx, a cache rebuild)."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s  # how long the other side asked us to wait, when it said


class Permanent(Exception):
    """No retry can fix this: the record goes to the dead-letter topic, or the service stops and says why."""


class Misconfigured(Permanent, ValueError):
    """A setting that no retry can fix: the service stops and says so."""
