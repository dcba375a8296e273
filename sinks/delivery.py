"""Deliver notifications to webhooks, Slack-compatible webhooks, email and Kafka topics.

Delivery is at least once: offsets are committed only after every notification of a
batch was delivered, set aside for a retry or dead-lettered, so a crash repeats some
deliveries. Each one carries the notification id (header ``X-Canyu-Notification-Id``,
or the email's Message-ID) for receivers to deduplicate. Webhook bodies are signed with
HMAC-SHA256 over ``"{timestamp}.{body}"``, with the key in the subscription's ``secret_env``
or, when it names none, the default key: the ``webhook_secret`` setting, else the one that
`canyu init` stored (``canyu_runtime.private.webhook_secret``). A webhook is never sent
unsigned: one whose key cannot be found is refused (dead-lettered), and delivery does not
start while a webhook subscription relies on a default key that does not exist.

A receiver's answer is judged by its status (and a 429's ``Retry-After``) alone: its body is
never read, so never decoded, and cannot cost memory however it is compressed.

A batch never waits on one receiver. Its notifications are grouped by endpoint (a
webhook's scheme, host and port; the SMTP server; Kafka), and the endpoints are served
at once by a bounded pool of ``deliver_concurrency`` threads. Each request has a timeout
(``deliver_timeout_s`` to connect and per read or write) and the batch a deadline
(``deliver_deadline_s``, plus the wait for retries due in it). A delivery that fails
goes to the ``notifications.retry`` topic, due again after the one retry policy's
backoff (a 429's Retry-After, capped by it, when the receiver says); once
``deliver_attempts`` tries are spent it is dead-lettered. After one failure the rest of
that endpoint's notifications in the batch are not tried: they go to the retry topic
without spending a try. A refusal (a 4xx answer, a redirect, a forbidden address, a
missing secret) is dead-lettered at once. So a dead endpoint costs one timeout per batch,
and the healthy receivers are never sent the batch again.

Redirects are never followed: one could lead past the address check. Webhooks and Slack
go through the one outbound guard (``canyu_runtime.outbound``): a subscription must not be a
way to reach into our own network, so non-public addresses are refused unless their host is
in ``deliver_allowed_hosts``, and the connection goes to the address that was checked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import threading
import time
import urllib.parse
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage

import httpx
from kafka.consumer.fetcher import ConsumerRecord

from canyu import topics
from canyu.schema import Channel, Notification
from canyu.settings import Settings
from canyu_runtime.errors import Misconfigured, RetryLater
from canyu_runtime.outbound import GuardedTransport, Refused, check_url
from canyu_runtime.private import WEBHOOK_SECRET, secret_path, webhook_secret
from canyu_runtime.reasons import reason_of
from canyu_runtime.retry import RetryPolicy, retry_after_s
from canyu_runtime.subscriptions import SubscriptionStore
from sinks.base import BatchSink

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO, and a Slack webhook's path is its secret.
logging.getLogger("httpx").setLevel(logging.WARNING)
TRIES_HEADER = "canyu-tries"  # on the retry topic: tries spent so far
DUE_HEADER = "canyu-due"  # on the retry topic: when to try again, in seconds since the epoch
ACK_TIMEOUT_S = 30
GRACE_S = 2.0  # past the deadline, for a request that the deadline is cutting short to end


def shown(channel: Channel) -> str:
    """The channel's target as logs and dead letters may show it: a webhook's path (a Slack
    webhook's is its secret) and query are left out."""
    if channel.type not in ("webhook", "slack"):
        return channel.target
    parsed = urllib.parse.urlsplit(channel.target)
    return f"{parsed.scheme}://{parsed.netloc.rpartition('@')[2]}/…"


def endpoint(channel: Channel) -> str:
    """What a dead receiver takes down with it: its notifications are served one after another."""
    if channel.type in ("webhook", "slack"):
        parsed = urllib.parse.urlsplit(channel.target)
        return f"{parsed.scheme}://{(parsed.hostname or '').lower()}:{parsed.port or ''}"
    return channel.type  # one SMTP server, one Kafka cluster


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def summary(notice: Notification) -> str:
    a = notice.alert
    what = ", ".join(f"{k} {v}" for k, v in a.dimensions.items())
    return (
        f"canyu {a.kind} alert: {what}: {a.observed:g} in {a.window_start:%Y-%m-%d %H:%M}–{a.window_end:%H:%M} UTC "
        f"(usually {a.baseline_mean:.1f} ± {a.baseline_std:.1f}, threshold {a.threshold:g})"
    )


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in getattr(record, "headers", None) or []:
        if key == name and value is not None:
            return value.decode("ascii", "replace")
    return None


@dataclass
class Job:
    """One notification of a batch, and what became of it."""

    record: ConsumerRecord
    notice: Notification
    tries: int = 0  # spent before this batch
    due: float = 0.0  # not to be tried before (epoch seconds)
    started: bool = False
    outcome: BaseException | None = None  # the failure, when it failed
    done: bool = False


class DeliverySink(BatchSink):
    name = "delivery"
    stage = "deliver"

    def __init__(self, settings: Settings):
        retry_topic = settings.topic(topics.NOTIFICATIONS_RETRY)
        super().__init__(settings, [settings.topic(topics.NOTIFICATIONS), retry_topic], settings.delivery_group)
        self.retry_topic = retry_topic
        self.delivery_retry = RetryPolicy(
            first_s=settings.deliver_backoff_s, max_s=settings.deliver_max_backoff_s, attempts=settings.deliver_attempts
        )

    def prepare(self) -> None:
        """Refuse to start while a webhook subscription relies on the default key and there is none."""
        if webhook_secret(self.settings):
            return
        relying = sorted(
            s.id for s in SubscriptionStore(self.settings).current().values()
            if s.channel.type == "webhook" and not s.channel.secret_env
        )  # fmt: skip
        if relying:
            raise Misconfigured(
                f"webhook subscriptions {', '.join(relying)} name no secret_env, and there is no default webhook "
                f"secret: set webhook_secret (CANYU_WEBHOOK_SECRET), or run `canyu init`, which stores one in "
                f"{secret_path(self.settings, WEBHOOK_SECRET)}; a webhook is never sent unsigned"
            )

    # -- a batch ---------------------------------------------------------------------------

    def write(self, batch: list[ConsumerRecord]) -> None:
        jobs: list[Job] = []
        for record in batch:
            try:
                notice = Notification.model_validate_json(record.value or b"")
            except ValueError as e:
                self._dead(record, f"not a valid Notification: {reason_of(e)}")
                continue
            tries, due = _header(record, TRIES_HEADER), _header(record, DUE_HEADER)
            jobs.append(Job(record, notice, int(tries or 0), float(due or 0)))
        if not jobs:
            return
        finished = self._serve(jobs)
        if finished:
            self._settle(jobs)
        # else: shutdown; ``run`` commits nothing, so the batch is delivered again on the next start

    def _serve(self, jobs: list[Job]) -> bool:
        """Deliver every job that can be by the deadline, endpoints at once; False on shutdown."""
        lanes: dict[str, list[Job]] = defaultdict(list)  # per endpoint, soonest due first
        for job in sorted(jobs, key=lambda j: j.due):
            lanes[endpoint(job.notice.channel)].append(job)
        wait_s = max(0.0, max(job.due for job in jobs) - time.time())
        deadline = time.monotonic() + min(wait_s, self.delivery_retry.max_s) + self.settings.deliver_deadline_s
        cutoff = threading.Event()
        lock = threading.Lock()
        pool = ThreadPoolExecutor(min(self.settings.deliver_concurrency, len(lanes)), thread_name_prefix="deliver")
        futures = [pool.submit(self._serve_lane, lane, deadline, cutoff, lock) for lane in lanes.values()]
        try:
            while not all(f.done() for f in futures) and time.monotonic() < deadline + GRACE_S:
                if self.stop.wait(0.05):
                    return False
            return True
        finally:
            with lock:
                cutoff.set()  # no lane starts another job now; what has not started is left for a retry
            pool.shutdown(wait=False, cancel_futures=True)

    def _serve_lane(self, lane: list[Job], deadline: float, cutoff: threading.Event, lock: threading.Lock) -> None:
        """One endpoint's jobs, in order, until the first failure (the rest wait for a retry) or the deadline."""
        for job in lane:
            while (left := job.due - time.time()) > 0 and not cutoff.is_set():
                self.stop.wait(min(left, deadline - time.monotonic(), 0.5))
                if time.monotonic() >= deadline or self.stop.is_set():
                    return
            with lock:
                if cutoff.is_set() or time.monotonic() >= deadline:
                    return
                job.started = True
            try:
                self.deliver(job.notice, deadline)
            except Exception as e:  # noqa: BLE001 - every failure is a retry or a dead letter, never a crash
                job.outcome = e
                job.done = True
                if not isinstance(e, Refused):
                    return  # the endpoint is down: its other notifications wait for the next try
            else:
                job.done = True

    def _settle(self, jobs: list[Job]) -> None:
        """Send each job's failure to the retry topic or dead-letters, and wait for Kafka to have them all."""
        retries, letters = [], []
        now = time.time()
        for job in jobs:
            notice, where = job.notice, f"{job.notice.channel.type} {shown(job.notice.channel)}"
            if job.done and job.outcome is None:
                log.info("delivered %s to %s", notice.id, where)
            elif not job.started:
                retries.append(self._retry(job, job.tries, now))  # not tried: no try spent
            elif isinstance(job.outcome, Refused):
                letters.append(self.dead_letter(job.record, f"refused: {reason_of(job.outcome)}"))
            else:
                error = job.outcome or TimeoutError(f"no answer within {self.settings.deliver_deadline_s:g}s")
                tries = job.tries + 1
                if tries >= self.delivery_retry.attempts:
                    letters.append(self.dead_letter(job.record, f"gave up after {tries} attempts: {reason_of(error)}"))
                    continue
                asked = getattr(error, "retry_after_s", None)
                delay = min(asked, self.delivery_retry.max_s) if asked is not None else self.delivery_retry.delay(tries)
                log.warning("delivering %s to %s failed (%s); try %d in %.0fs", notice.id, where, reason_of(error),
                            tries + 1, delay)  # fmt: skip
                retries.append(self._retry(job, tries, now + delay))
        for future in retries:
            future.get(timeout=ACK_TIMEOUT_S)
        if letters:
            for letter in letters:
                log.error("notification at offset %s dead-lettered: %s", letter.offset, letter.reason)
            self.send_dead_letters(letters)

    def _retry(self, job: Job, tries: int, due: float):
        headers = [(TRIES_HEADER, str(tries).encode()), (DUE_HEADER, f"{due:.3f}".encode())]
        return self.producer.send(self.retry_topic, key=job.notice.id.encode(), value=job.record.value, headers=headers)

    # -- one notification ------------------------------------------------------------------

    def deliver(self, notice: Notification, deadline: float | None = None) -> None:
        """One try; raises :class:`Refused`, or any other error for a failure that a later try may get past."""
        deadline = deadline if deadline is not None else time.monotonic() + self.settings.deliver_deadline_s
        channel = notice.channel
        if channel.type in ("webhook", "slack"):
            body = notice.model_dump_json() if channel.type == "webhook" else json.dumps({"text": summary(notice)})
            self._post(channel, notice.id, body.encode(), deadline)
        elif channel.type == "email":
            self._email(channel, notice)
        else:
            sent = self.producer.send(channel.target, key=notice.id.encode(), value=notice.model_dump_json().encode())
            sent.get(timeout=self.settings.deliver_timeout_s)  # delivered means acknowledged, like the other channels

    def _post(self, channel: Channel, notice_id: str, body: bytes, deadline: float) -> None:
        where = shown(channel)
        secret = os.environ.get(channel.secret_env) if channel.secret_env else webhook_secret(self.settings)
        if channel.secret_env and not secret:
            raise Refused(f"the secret variable {channel.secret_env} is not set; a webhook is never sent unsigned")
        if channel.type == "webhook" and not secret:
            raise Refused("no webhook secret: set webhook_secret (CANYU_WEBHOOK_SECRET) or run `canyu init`; "
                          "a webhook is never sent unsigned")  # fmt: skip
        check_url(channel.target)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "canyu-delivery/1",
            "X-Canyu-Notification-Id": notice_id,
            "X-Canyu-Timestamp": timestamp,
            "Accept-Encoding": "identity",  # the answer's body is never read; it need not be compressed either
        }
        if secret:
            headers["X-Canyu-Signature"] = signature(secret.encode(), timestamp, body)
        try:
            with (
                httpx.Client(
                    transport=GuardedTransport(self.settings.deliver_allowed_hosts, "deliver_allowed_hosts", deadline),
                    timeout=self.settings.deliver_timeout_s,
                    follow_redirects=False,  # a redirect could lead past the address check
                ) as client,
                client.stream("POST", channel.target, content=body, headers=headers) as response,
            ):
                # The status and headers say all; the body is left unread, so a hostile receiver's
                # compressed answer is never decoded (a gzip bomb costs nothing).
                code, retry_after = response.status_code, response.headers.get("Retry-After")
        except httpx.TransportError as e:  # could not connect, or no answer in time: try again
            raise OSError(f"{where}: {type(e).__name__}") from None  # its message repeats the URL
        if 300 <= code < 400:
            raise Refused(f"{where} answered {code}, a redirect, which is not followed")
        if 400 <= code < 500 and code not in (408, 429):
            raise Refused(f"{where} answered {code}")
        if code >= 400:
            raise RetryLater(f"{where} answered {code}", retry_after_s(retry_after))

    def _email(self, channel: Channel, notice: Notification) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = channel.target
        message["Subject"] = summary(notice)[:200]
        message["Message-ID"] = f"<{notice.id}@canyu>"
        samples = "\n".join(f"- {text}" for text in notice.alert.samples)
        message.set_content(f"{summary(notice)}\n\nSample posts:\n{samples}\n\nAlert id: {notice.alert.id}\n")
        timeout = self.settings.deliver_timeout_s
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=timeout) as smtp:
            smtp.send_message(message)

    def _dead(self, record: ConsumerRecord, reason: str) -> None:
        log.error("notification at offset %s dead-lettered: %s", record.offset, reason)
        self.send_dead_letters([self.dead_letter(record, reason)])
