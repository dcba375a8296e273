"""Deliver notifications to webhooks, Slack-compatible webhooks, email and Kafka topics.

Delivery is at least once: offsets are committed only after every notification of a
batch was delivered or dead-lettered, so a crash repeats some deliveries. Each one
carries the notification id (header ``X-Canyu-Notification-Id``, or the email's
Message-ID) for receivers to deduplicate. Webhook bodies are signed with
HMAC-SHA256 over ``"{timestamp}.{body}"``. A failed delivery is tried again under
the one retry policy, ``deliver_attempts`` times in all, then dead-lettered; a
refusal (a 4xx answer, a redirect, a forbidden address) is dead-lettered at once.
Redirects are never followed: one could lead past the address check. Addresses
on loopback, private or link-local networks are refused unless their host is in
``deliver_allowed_hosts``: a subscription must not be a way to reach into our own
network.
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
import time
import urllib.parse
from email.message import EmailMessage
from functools import partial

import httpx
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from canyu import topics
from canyu.schema import Channel, Notification
from canyu.settings import Settings
from canyu_runtime.errors import Permanent
from canyu_runtime.reasons import reason_of
from canyu_runtime.retry import RetryPolicy, Stopped
from sinks.base import BatchSink

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO, and a Slack webhook's path is its secret.
logging.getLogger("httpx").setLevel(logging.WARNING)
TIMEOUT_S = 10
TRANSIENT = (OSError, smtplib.SMTPException, KafkaError)  # what a later attempt may get past


class Refused(Permanent):
    """Delivery must not be tried at all (a retry would not help)."""


def check_address(url: str, allowed_hosts: list[str]) -> None:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise Refused(f"{url!r} is not an http(s) URL")
    if parsed.hostname in allowed_hosts:
        return
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise OSError(f"cannot resolve {parsed.hostname}: {e}") from e
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise Refused(
                f"{parsed.hostname} resolves to {address}, a non-public address; "
                "add the host to deliver_allowed_hosts to allow it"
            )


def shown(channel: Channel) -> str:
    """The channel's target as logs and dead letters may show it: a webhook's path (a Slack
    webhook's is its secret) and query are left out."""
    if channel.type not in ("webhook", "slack"):
        return channel.target
    parsed = urllib.parse.urlsplit(channel.target)
    return f"{parsed.scheme}://{parsed.netloc.rpartition('@')[2]}/…"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def summary(notice: Notification) -> str:
    a = notice.alert
    what = ", ".join(f"{k} {v}" for k, v in a.dimensions.items())
    return (
        f"canyu {a.kind} alert: {what}: {a.observed:g} in {a.window_start:%Y-%m-%d %H:%M}–{a.window_end:%H:%M} UTC "
        f"(usually {a.baseline_mean:.1f} ± {a.baseline_std:.1f}, threshold {a.threshold:g})"
    )


class DeliverySink(BatchSink):
    name = "delivery"
    stage = "deliver"

    def __init__(self, settings: Settings):
        super().__init__(settings, [settings.topic(topics.NOTIFICATIONS)], settings.delivery_group)
        self.delivery_retry = RetryPolicy(attempts=settings.deliver_attempts)

    def write(self, batch: list[ConsumerRecord]) -> None:
        for record in batch:
            try:
                notice = Notification.model_validate_json(record.value)
            except ValueError as e:
                self._dead(record, f"not a valid Notification: {reason_of(e)}")
                continue
            try:
                self._deliver_with_retries(notice, record)
            except Stopped:  # shutdown: ``run`` commits nothing, so the rest is delivered on the next start
                return

    def _deliver_with_retries(self, notice: Notification, record: ConsumerRecord) -> None:
        """Deliver, or dead-letter once it is refused or the attempts are spent; ``Stopped`` on shutdown."""
        deliver = partial(self.deliver, notice)
        try:
            self.delivery_retry.call(deliver, what=f"delivering {notice.id}", retry_on=TRANSIENT, stop=self.stop)
        except Refused as e:
            self._dead(record, f"refused: {reason_of(e)}")
        except TRANSIENT as e:
            self._dead(record, f"gave up after {self.delivery_retry.attempts} attempts: {reason_of(e)}")
        else:
            log.info("delivered %s to %s %s", notice.id, notice.channel.type, shown(notice.channel))

    def deliver(self, notice: Notification) -> None:
        channel = notice.channel
        if channel.type in ("webhook", "slack"):
            body = notice.model_dump_json() if channel.type == "webhook" else json.dumps({"text": summary(notice)})
            self._post(channel, notice.id, body.encode())
        elif channel.type == "email":
            self._email(channel, notice)
        else:
            sent = self.producer.send(channel.target, key=notice.id.encode(), value=notice.model_dump_json().encode())
            sent.get(timeout=TIMEOUT_S)  # delivered means acknowledged, like the other channels

    def _post(self, channel: Channel, notice_id: str, body: bytes) -> None:
        check_address(channel.target, self.settings.deliver_allowed_hosts)
        where = shown(channel)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "canyu-delivery/1",
            "X-Canyu-Notification-Id": notice_id,
            "X-Canyu-Timestamp": timestamp,
        }
        secret = os.environ.get(channel.secret_env) if channel.secret_env else self.settings.webhook_secret
        if secret:
            headers["X-Canyu-Signature"] = signature(secret.encode(), timestamp, body)
        try:
            response = httpx.post(
                channel.target, content=body, headers=headers, timeout=TIMEOUT_S, follow_redirects=False
            )  # a redirect could lead past the address check
        except httpx.TransportError as e:  # could not connect, or no answer in time: try again
            raise OSError(f"{where}: {type(e).__name__}") from None  # its message repeats the URL
        code = response.status_code
        if 300 <= code < 400:
            raise Refused(f"{where} answered {code}, a redirect, which is not followed")
        if 400 <= code < 500 and code not in (408, 429):
            raise Refused(f"{where} answered {code}")
        if code >= 400:
            raise OSError(f"{where} answered {code}")

    def _email(self, channel: Channel, notice: Notification) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = channel.target
        message["Subject"] = summary(notice)[:200]
        message["Message-ID"] = f"<{notice.id}@canyu>"
        samples = "\n".join(f"- {text}" for text in notice.alert.samples)
        message.set_content(f"{summary(notice)}\n\nSample posts:\n{samples}\n\nAlert id: {notice.alert.id}\n")
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=TIMEOUT_S) as smtp:
            smtp.send_message(message)

    def _dead(self, record: ConsumerRecord, reason: str) -> None:
        log.error("notification at offset %s dead-lettered: %s", record.offset, reason)
        self.send_dead_letters([self.dead_letter(record, reason)])
