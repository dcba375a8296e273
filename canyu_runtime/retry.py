"""The one retry policy: exponential backoff with jitter, a bound, and respect for shutdown.

Every room retries through :meth:`RetryPolicy.call`, built on tenacity. A failure is
tried again after ``first_s``, then twice as long each time up to ``max_s``, each
delay scaled by a random factor in [0.5, 1] so that many clients failing at the same
moment do not come back at the same moment. An exception that carries
``retry_after_s`` (the server said when) waits that long instead. ``attempts``
bounds the tries; after the last one the last exception is raised, for the caller
to dead-letter or report. A :class:`~canyu_runtime.errors.Permanent` error is
never retried. ``within_s`` bounds the time instead: no try starts after it has
passed since the first. Setting the ``stop`` event interrupts a wait at once and raises
:class:`Stopped`, so shutdown never waits out a backoff.

Waiting for a server, or a service, to come up is a retry too: :func:`wait_until` asks a
readiness check again under this policy, until it passes or the time is up.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
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
    within_s: float | None = None  # no try starts once this long has passed since the first; None: no bound

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
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
        level: int = logging.WARNING,
    ) -> T:
        """``step()``, tried again on ``retry_on`` errors as this policy says; its result, or the last error.

        ``sleep`` and ``clock`` stand in for the waits and the time (tests); each failure is logged at ``level``.
        """
        stop = stop or threading.Event()
        started = clock()

        def spent(state: tenacity.RetryCallState) -> bool:
            if self.attempts and state.attempt_number >= self.attempts:
                return True
            # Stop now rather than wait past the bound: the next try would start too late.
            return self.within_s is not None and clock() - started + state.upcoming_sleep > self.within_s

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
            logger.log(level, "%s failed (%s); retrying in %.1fs", what, error or type(error).__name__,
                       state.next_action.sleep)  # fmt: skip

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(retry_on)
            & tenacity.retry_if_not_exception_type((Permanent, Stopped)),
            stop=spent,
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


class NotReady(RuntimeError):
    """What a readiness check raises while what it waits for is not there yet; its message says what it saw.
    :func:`wait_until` raises it too, when the time is up."""


def wait_until(
    ready: Callable[[], T],
    *,
    timeout_s: float,
    what: str,
    every_s: float = 1.0,
    stop: threading.Event | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``ready()``'s result once it no longer raises :class:`NotReady`, asked again about every ``every_s``
    (the retry policy's waits, jitter included) for up to ``timeout_s``.

    Then :class:`NotReady` naming ``what`` and the last thing seen. Any other error from ``ready`` (the
    server exited) ends the wait at once. ``sleep`` and ``clock`` stand in for the waits and the time (tests).
    """
    policy = RetryPolicy(first_s=every_s, max_s=every_s, within_s=timeout_s)
    try:
        return policy.call(ready, what=what, retry_on=NotReady, stop=stop, sleep=sleep, clock=clock,
                           level=logging.DEBUG)  # fmt: skip
    except NotReady as e:
        raise NotReady(f"{what}: not ready after {timeout_s:.0f}s: {e}") from None
