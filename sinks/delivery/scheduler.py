"""Serving a batch: its endpoints at once, each request under a timeout, the batch under a deadline.

A batch never waits on one receiver. Its notifications are grouped by endpoint (a webhook's
scheme, host and port; the SMTP server; Kafka: ``Sender.endpoint``), and the endpoints are
served at once by a bounded pool of ``deliver_concurrency`` threads. Each request has a timeout
(``deliver_timeout_s`` to connect and per read or write) and the batch a deadline
(``deliver_deadline_s``, plus the wait for retries due in it). An endpoint's notifications go
one after another; after its first failure the rest are not tried in this batch (they wait for
a retry), so a dead endpoint costs one timeout per batch. A refusal says nothing of the
endpoint's health: its next notification is tried.

The time and the waits come from a :class:`Clock`, so that a test can keep the waits a batch asks
for, on a time that moves only by them.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kafka.consumer.fetcher import ConsumerRecord

from canyu.schema import Notification
from canyu_runtime.outbound import Refused

GRACE_S = 2.0  # past the deadline, for a request that the deadline is cutting short to end
Send = Callable[[Notification, float], None]  # one try of one notification, over by the deadline


class Clock:
    """The time and the waits of a batch: the system's."""

    def time(self) -> float:
        """Seconds since the epoch: due times are kept so, on the retry topic, across processes."""
        return time.time()

    def monotonic(self) -> float:
        """For deadlines, which must not move when the system's time is set."""
        return time.monotonic()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait ``seconds``, or less if ``stop`` is set meanwhile; whether it is."""
        return stop.wait(seconds)


SYSTEM_CLOCK = Clock()


@dataclass
class Job:
    """One notification of a batch, and what became of it."""

    record: ConsumerRecord
    notice: Notification
    endpoint: str  # the jobs of one endpoint are served one after another
    tries: int = 0  # spent before this batch
    due: float = 0.0  # not to be tried before (epoch seconds)
    started: bool = False
    outcome: BaseException | None = None  # the failure, when it failed
    done: bool = False


def serve(jobs: list[Job], send: Send, *, concurrency: int, deadline_s: float, max_wait_s: float,
          stop: threading.Event, clock: Clock = SYSTEM_CLOCK) -> bool:  # fmt: skip
    """Deliver every job that can be by the deadline, endpoints at once; False on shutdown.

    The deadline is ``deadline_s`` after the latest job is due, and that wait at most ``max_wait_s``.
    """
    lanes: dict[str, list[Job]] = defaultdict(list)  # per endpoint, soonest due first
    for job in sorted(jobs, key=lambda j: j.due):
        lanes[job.endpoint].append(job)
    wait_s = max(0.0, max(job.due for job in jobs) - clock.time())
    deadline = clock.monotonic() + min(wait_s, max_wait_s) + deadline_s
    cutoff = threading.Event()
    lock = threading.Lock()
    pool = ThreadPoolExecutor(min(concurrency, len(lanes)), thread_name_prefix="deliver")
    futures = [pool.submit(_serve_lane, lane, send, deadline, cutoff, lock, stop, clock) for lane in lanes.values()]
    try:
        while not all(f.done() for f in futures) and clock.monotonic() < deadline + GRACE_S:
            if stop.wait(0.05):  # a look at the lanes; the waits the batch asks for are the clock's
                return False
        return not stop.is_set()  # stopped as the lanes ended: not settled, as ``run`` will not commit it
    finally:
        with lock:
            cutoff.set()  # no lane starts another job now; what has not started is left for a retry
        pool.shutdown(wait=False, cancel_futures=True)


def _serve_lane(lane: list[Job], send: Send, deadline: float, cutoff: threading.Event, lock: threading.Lock,
                stop: threading.Event, clock: Clock) -> None:  # fmt: skip
    """One endpoint's jobs, in order, until the first failure (the rest wait for a retry) or the deadline."""
    for job in lane:
        while (left := job.due - clock.time()) > 0 and not cutoff.is_set():
            clock.wait(stop, min(left, deadline - clock.monotonic(), 0.5))  # at most 0.5 s: then a look at cutoff
            if clock.monotonic() >= deadline or stop.is_set():
                return
        with lock:
            if cutoff.is_set() or clock.monotonic() >= deadline:
                return
            job.started = True
        try:
            send(job.notice, deadline)
        except Exception as e:  # noqa: BLE001 - every failure is a retry or a dead letter, never a crash
            job.outcome = e
            job.done = True
            if not isinstance(e, Refused):
                return  # the endpoint is down: its other notifications wait for the next try
        else:
            job.done = True
