"""The one retry policy: backoff with jitter, a bound, Retry-After, and shutdown."""

import threading
from datetime import datetime, timezone

import pytest

from canyu_runtime.errors import Misconfigured, RetryLater
from canyu_runtime.retry import NotReady, RetryPolicy, Stopped, retry_after_s, wait_until


class Flaky:
    def __init__(self, failures: int, error: Exception | None = None):
        self.failures = failures
        self.error = error or OSError("connection refused")
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


class ShutdownDuringWait(threading.Event):
    """A stop event that a shutdown sets as soon as anyone waits on it; it keeps the waits asked for."""

    def __init__(self):
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        self.set()
        return super().wait(timeout)


def test_a_step_that_recovers_returns_its_result_after_backing_off():
    waits: list[float] = []
    step = Flaky(failures=3)
    result = RetryPolicy(first_s=1.0, max_s=3.0).call(step, what="fetching", sleep=waits.append)
    assert result == "done" and step.calls == 4
    # 1, 2, 4 capped at 3, each scaled by jitter into [0.5, 1]
    for wait, full in zip(waits, [1.0, 2.0, 3.0], strict=True):
        assert full * 0.5 <= wait <= full


def test_the_give_up_path_raises_the_last_error_after_the_bound_and_reports_every_failure():
    waits: list[float] = []
    seen: list[BaseException] = []
    step = Flaky(failures=10, error=OSError("still down"))
    with pytest.raises(OSError, match="still down"):
        RetryPolicy(attempts=3).call(step, what="sending", sleep=waits.append, on_failure=seen.append)
    assert step.calls == 3 and len(waits) == 2 and len(seen) == 3


def test_errors_outside_retry_on_and_permanent_errors_are_never_retried():
    step = Flaky(failures=1, error=KeyError("id"))
    with pytest.raises(KeyError):
        RetryPolicy().call(step, what="mapping", retry_on=OSError, sleep=lambda s: None)
    assert step.calls == 1
    step = Flaky(failures=1, error=Misconfigured("es_analysis 'x'"))
    with pytest.raises(Misconfigured):
        RetryPolicy().call(step, what="migrating", sleep=lambda s: None)
    assert step.calls == 1


def test_a_server_that_says_when_to_come_back_is_waited_for_that_long():
    waits: list[float] = []
    step = Flaky(failures=1, error=RetryLater("429", retry_after_s=42.0))
    assert RetryPolicy(max_s=1.0).call(step, what="polling", sleep=waits.append) == "done"
    assert waits == [42.0]


def test_shutdown_interrupts_the_wait_at_once():
    stop = ShutdownDuringWait()
    step = Flaky(failures=100)
    with pytest.raises(Stopped):
        RetryPolicy(first_s=60.0, max_s=60.0).call(step, what="writing", stop=stop)
    # The backoff is a wait on the stop event, which a shutdown ends at once; then no other try.
    assert step.calls == 1 and len(stop.waits) == 1 and 30.0 <= stop.waits[0] <= 60.0


def test_retry_after_is_delta_seconds_or_a_date_and_never_a_negative_or_nan_wait():
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_s("7", now) == 7.0 and retry_after_s(" 1.5 ", now) == 1.5
    assert retry_after_s("Fri, 27 Nov 2026 12:00:30 GMT", now) == 30
    assert retry_after_s("Fri, 27 Nov 2026 12:00:30 -0000", now) == 30
    assert retry_after_s("Fri, 27 Nov 2026 11:00:00 GMT", now) == 0.0  # a date past: no wait, not a negative one
    for nonsense in ("-5", "nan", "NaN", "inf", "-inf", "1e400", "soon", "", None):
        assert retry_after_s(nonsense, now) is None, nonsense


# --- Waiting for something to come up: a retry under the same policy, bounded in time -------------------------------


class Clock:
    """The time, moved only by the waits that are asked for."""

    def __init__(self):
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def answers(*replies):
    """A readiness check that gives each reply in turn, raising those that are errors."""
    left = list(replies)

    def ready():
        reply = left.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    return ready


def test_waiting_asks_again_until_ready_and_returns_what_it_found():
    clock = Clock()
    ready = answers(NotReady("starting"), NotReady("yellow, 0 nodes"), "green")
    assert wait_until(ready, timeout_s=60, what="es", every_s=2, sleep=clock.sleep, clock=clock) == "green"
    assert len(clock.waits) == 2 and all(1.0 <= wait <= 2.0 for wait in clock.waits)  # every 2 s, with jitter


def test_waiting_gives_up_in_time_naming_what_and_the_last_thing_seen():
    clock = Clock()
    seen = iter(range(100))

    def ready():
        raise NotReady(f"{next(seen)} of 10 posts indexed")

    with pytest.raises(NotReady, match=r"^indexing: not ready after 5s: [0-9]+ of 10 posts indexed$"):
        wait_until(ready, timeout_s=5, what="indexing", every_s=1, sleep=clock.sleep, clock=clock)
    assert 4 <= clock.now <= 5 and len(clock.waits) >= 4  # no try starts after the time is up


def test_waiting_ends_at_once_when_what_it_waits_for_failed():
    clock = Clock()
    ready = answers(NotReady("starting"), RuntimeError("kafka exited during start-up"), "never asked")
    with pytest.raises(RuntimeError, match="exited"):
        wait_until(ready, timeout_s=60, what="kafka", sleep=clock.sleep, clock=clock)
    assert len(clock.waits) == 1
