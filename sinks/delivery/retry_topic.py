"""The retry topic's bookkeeping: the tries a notification spent, when it is due again, when to give up.

A delivery that fails goes to ``notifications.retry`` with two headers: the tries it has spent
(``canyu-tries``) and when it is due again (``canyu-due``), after the one retry policy's backoff,
or after a 429's Retry-After, capped by the policy's longest wait, when the receiver says. Once
``deliver_attempts`` tries are spent it is dead-lettered. A notification that the scheduler never
started (its endpoint failed first, or the deadline came) goes back with no try spent. A
refusal (a 4xx answer, a redirect, a forbidden address, a missing secret) is dead-lettered at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from canyu_runtime.outbound import Refused
from canyu_runtime.reasons import reason_of
from canyu_runtime.retry import RetryPolicy
from sinks.delivery.scheduler import Job

TRIES_HEADER = "canyu-tries"  # on the retry topic: tries spent so far
DUE_HEADER = "canyu-due"  # on the retry topic: when to try again, in seconds since the epoch
ACK_TIMEOUT_S = 30


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in getattr(record, "headers", None) or []:
        if key == name and value is not None:
            return value.decode("ascii", "replace")
    return None


def tries_and_due(record: ConsumerRecord) -> tuple[int, float]:
    """The tries a notification spent and when it is due (epoch seconds): 0 and 0 for one not retried yet."""
    tries, due = _header(record, TRIES_HEADER), _header(record, DUE_HEADER)
    return int(tries or 0), float(due or 0)


@dataclass(frozen=True)
class Delivered:
    pass


@dataclass(frozen=True)
class TryAgain:
    tries: int  # spent so far
    due: float  # epoch seconds
    error: BaseException | None  # why; None when it was not tried in this batch


@dataclass(frozen=True)
class GiveUp:
    reason: str  # the dead letter's


def verdict(job: Job, policy: RetryPolicy, now: float, deadline_s: float) -> Delivered | TryAgain | GiveUp:
    """What becomes of a job once its batch was served (``now``: epoch seconds)."""
    if job.done and job.outcome is None:
        return Delivered()
    if not job.started:
        return TryAgain(job.tries, now, None)  # not tried: no try spent
    if isinstance(job.outcome, Refused):
        return GiveUp(f"refused: {reason_of(job.outcome)}")
    error = job.outcome or TimeoutError(f"no answer within {deadline_s:g}s")
    tries = job.tries + 1
    if policy.attempts is not None and tries >= policy.attempts:
        return GiveUp(f"gave up after {tries} attempts: {reason_of(error)}")
    asked = getattr(error, "retry_after_s", None)
    delay = min(asked, policy.max_s) if asked is not None else policy.delay(tries)
    return TryAgain(tries, now + delay, error)


def requeue(producer: KafkaProducer, topic: str, retries: list[tuple[Job, TryAgain]]) -> None:
    """Send each job to the retry topic with its tries and due time; return once Kafka has them all."""
    sent = [
        producer.send(
            topic,
            key=job.notice.id.encode(),
            value=job.record.value,
            headers=[(TRIES_HEADER, str(step.tries).encode()), (DUE_HEADER, f"{step.due:.3f}".encode())],
        )
        for job, step in retries
    ]
    for future in sent:
        future.get(timeout=ACK_TIMEOUT_S)
