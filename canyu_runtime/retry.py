"""The one retry policy: exponential backoff with jitter, a bound, and respect for shutdown.

Every room retries through :meth:`RetryPolicy.call`, built on tenacity. A failure is
tried again after ``first_s``, then twice as long each time up to ``max_s``, each
delay scaled by a random factor in [0.5, 1] so that many clients failing at the same
moment do not come back at the same moment. An exception that carries
``retry_after_s`` (the server said when) waits that long instead. ``attempts``
bounds the tries; after the last one the last exception is raised, for the caller
to dead-letter or report. A :class:`~canyu_runtime.errors.Permanent` error is
never retried. Setting the ``stop`` event interrupts a wait at once and raises
:class:`Stopped`, so shutdown never waits out a backoff.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

import tenacity

from canyu_runtime.errors import Permanent
from canyu_runtime.metrics import METRICS

T = TypeVar("T")
log = logging.getLogger(__name__)


DELAY_SECONDS = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")  # no sign, no exponent: -5, nan and inf are no waits


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, delta-seconds or an HTTP date; None when it says nothing
    usable (a negative or NaN wait would skip the backoff, and a date past is no wait)."""
    if not value:
        return None
    value = value.strip()
    if DELAY_SECONDS.match(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": a date in UTC, from a sender that does not say where it is
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class Stopped(Exception):
    """Shutdown was asked for while a failed step waited for its next try."""


@dataclass(frozen=True)
class RetryPolicy:
    first_s: float = 0.5
    max_s: float = 30.0
    attempts: int | None = None  # tries in all; None: until it succeeds or shutdown

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row (1, 2, ...)."""
        return min(self.max_s, self.first_s * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)

    def call(
        self,
        step: Callable[[], T],
        *,
        what: str,
        retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
        stop: threading.Event | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        sleep: Callable[[float], None] | None = None,
        logger: logging.Logger = log,
    ) -> T:
        """``step()``, tried again on ``retry_on`` errors as this policy says; its result, or the last error."""
        stop = stop or threading.Event()

        def wait(state: tenacity.RetryCallState) -> float:
            asked = getattr(state.outcome.exception(), "retry_after_s", None)
            return asked if asked is not None else self.delay(state.attempt_number)

        def pause(seconds: float) -> None:
            if sleep is not None:
                sleep(seconds)
            if stop.wait(0 if sleep is not None else seconds):
                raise Stopped(f"{what}: stopped while waiting to retry")

        def failed(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception()
            if on_failure is not None:
                on_failure(error)
            METRICS.retried()
            logger.warning("%s failed (%s); retrying in %.1fs", what, error or type(error).__name__,
                           state.next_action.sleep)  # fmt: skip

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(retry_on)
            & tenacity.retry_if_not_exception_type((Permanent, Stopped)),
            stop=tenacity.stop_after_attempt(self.attempts) if self.attempts else tenacity.stop_never,
            wait=wait,
            sleep=pause,
            before_sleep=failed,
            reraise=True,
        )
        try:
            return retrying(step)
        except Stopped:
            raise
        except Exception as e:  # the last failure, which ``before_sleep`` never saw
            if on_failure is not None:
                on_failure(e)
            raise
