"""Deliver notifications to webhooks, Slack-compatible webhooks, email and Kafka topics.

Delivery is at least once: offsets are committed only after every notification of a
batch was delivered, set aside for a retry or dead-lettered, so a crash repeats some
deliveries. Each one carries the notification id (header ``X-Canyu-Notification-Id``,
or the email's Message-ID) for receivers to deduplicate. Webhook bodies are signed with
HMAC-SHA256 over ``"{timestamp}.{body}"``; a webhook whose ``secret_env`` is not set is
refused, never sent unsigned.

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

Redirects are never followed: one could lead past the address check. Addresses on
loopback, private or link-local networks, and the IPv6 forms that carry one (IPv4-mapped,
IPv4-compatible, 6to4, NAT64, Teredo) are refused unless their host is in
``deliver_allowed_hosts``: a subscription must not be a way to reach into our own
network. The host is resolved once; the connection goes to the address that was checked
(the Host header and TLS server name stay the host's), so a second DNS answer cannot
differ from the first.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import smtplib
import socket
import threading
import time
import urllib.parse
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage

import httpcore
import httpx
from kafka.consumer.fetcher import ConsumerRecord

from canyu import topics
from canyu.schema import Channel, Notification
from canyu.settings import Settings
from canyu_runtime.errors import Permanent, RetryLater
from canyu_runtime.reasons import reason_of
from canyu_runtime.retry import RetryPolicy
from sinks.base import BatchSink

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO, and a Slack webhook's path is its secret.
logging.getLogger("httpx").setLevel(logging.WARNING)
TRIES_HEADER = "canyu-tries"  # on the retry topic: tries spent so far
DUE_HEADER = "canyu-due"  # on the retry topic: when to try again, in seconds since the epoch
ACK_TIMEOUT_S = 30
GRACE_S = 2.0  # past the deadline, for a request that the deadline is cutting short to end
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Permanent):
    """Delivery must not be tried at all (a retry would not help)."""


def embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 address carries (IPv4-mapped or -compatible, 6to4, NAT64, Teredo)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64 or int(address) >> 32 == 0:  # NAT64, and ::a.b.c.d (IPv4-compatible)
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    inner = embedded_ipv4(address)
    return address.is_global and (inner is None or inner.is_global)


def check_address(url: str, allowed_hosts: list[str]) -> str:
    """The address to connect to for ``url``: its host resolved once, every answer checked, the first one."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise Refused(f"{url!r} is not an http(s) URL")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise Refused("the URL's port is not in 1-65535") from None
    try:
        infos = socket.getaddrinfo(parsed.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise OSError(f"cannot resolve {parsed.hostname}: {e}") from e
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise OSError(f"cannot resolve {parsed.hostname}: no address")
    if parsed.hostname not in allowed_hosts:
        for address in addresses:
            if not is_public(address):
                raise Refused(
                    f"{parsed.hostname} resolves to {address}, a non-public address; "
                    "add the host to deliver_allowed_hosts to allow it"
                )
    return str(addresses[0])


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline, however slowly the other side drips."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float):
        self.stream, self.deadline = stream, deadline

    def _timeout(self, timeout: float | None, error: type[Exception]) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the delivery deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self._timeout(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self._timeout(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        tls = self.stream.start_tls(ssl_context, server_hostname, self._timeout(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls, self.deadline)

    def get_extra_info(self, info: str):
        return self.stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked address whatever host the request names; TLS still verifies that host."""

    def __init__(self, address: str, deadline: float):
        self.address, self.deadline = address, deadline
        self.backend = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ConnectTimeout("the delivery deadline passed")
        timeout = left if timeout is None else min(timeout, left)
        stream = self.backend.connect_tcp(self.address, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream, self.deadline)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("a webhook is never a unix socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport, its connections made by :class:`_PinnedBackend`."""

    def __init__(self, address: str, deadline: float):
        super().__init__(retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=_PinnedBackend(address, deadline)
        )


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


def retry_after_s(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


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
        secret = os.environ.get(channel.secret_env) if channel.secret_env else self.settings.webhook_secret
        if channel.secret_env and not secret:
            raise Refused(f"the secret variable {channel.secret_env} is not set; a webhook is never sent unsigned")
        address = check_address(channel.target, self.settings.deliver_allowed_hosts)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "canyu-delivery/1",
            "X-Canyu-Notification-Id": notice_id,
            "X-Canyu-Timestamp": timestamp,
        }
        if secret:
            headers["X-Canyu-Signature"] = signature(secret.encode(), timestamp, body)
        try:
            with httpx.Client(
                transport=PinnedTransport(address, deadline),
                timeout=self.settings.deliver_timeout_s,
                follow_redirects=False,  # a redirect could lead past the address check
            ) as client:
                response = client.post(channel.target, content=body, headers=headers)
        except httpx.TransportError as e:  # could not connect, or no answer in time: try again
            raise OSError(f"{where}: {type(e).__name__}") from None  # its message repeats the URL
        code = response.status_code
        if 300 <= code < 400:
            raise Refused(f"{where} answered {code}, a redirect, which is not followed")
        if 400 <= code < 500 and code not in (408, 429):
            raise Refused(f"{where} answered {code}")
        if code >= 400:
            raise RetryLater(f"{where} answered {code}", retry_after_s(response.headers.get("Retry-After")))

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
