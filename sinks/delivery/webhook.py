"""Webhooks and Slack-compatible webhooks: a signed JSON POST through the one outbound guard.

Webhook bodies are signed with HMAC-SHA256 over ``"{timestamp}.{body}"``, with the key in the
subscription's ``secret_env`` or, when it names none, the default key: the ``webhook_secret``
setting, else the one that `canyu init` stored (``canyu_runtime.private.webhook_secret``). A
webhook is never sent unsigned: one whose key cannot be found is refused (dead-lettered). Slack
ignores the headers, so a Slack webhook is signed when a default key exists.

A receiver's answer is judged by its status (and a 429's ``Retry-After``) alone: its body is
never read, so never decoded, and cannot cost memory however it is compressed.

Redirects are never followed: one could lead past the address check. Every request goes through
the one outbound guard (``canyu_runtime.outbound``): a subscription must not be a way to reach
into our own network, so non-public addresses are refused unless their host is in
``deliver_allowed_hosts``, and the connection goes to the address that was checked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
import urllib.parse
from typing import ClassVar

import httpx

from canyu.schema import Channel, Notification
from canyu_runtime.errors import RetryLater
from canyu_runtime.outbound import GuardedTransport, Refused, check_url
from canyu_runtime.private import webhook_secret
from canyu_runtime.retry import retry_after_s
from sinks.delivery.channel import Sender, summary

# httpx logs every request's URL at INFO, and a Slack webhook's path is its secret.
logging.getLogger("httpx").setLevel(logging.WARNING)


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class Webhook(Sender):
    """The notification as JSON, signed; never sent unsigned."""

    kind = "webhook"
    unsigned_allowed: ClassVar[bool] = False  # with no secret_env and no default key

    @classmethod
    def endpoint(cls, target: str) -> str:
        """Its scheme, host and port."""
        parsed = urllib.parse.urlsplit(target)
        return f"{parsed.scheme}://{(parsed.hostname or '').lower()}:{parsed.port or ''}"

    @classmethod
    def shown(cls, target: str) -> str:
        """Its path (a Slack webhook's is its secret) and query left out."""
        parsed = urllib.parse.urlsplit(target)
        return f"{parsed.scheme}://{parsed.netloc.rpartition('@')[2]}/…"

    def body(self, notice: Notification) -> bytes:
        return notice.model_dump_json().encode()

    def secret(self, channel: Channel) -> str | None:
        """The signing key; :class:`Refused` when a key is needed and cannot be found."""
        secret = os.environ.get(channel.secret_env) if channel.secret_env else webhook_secret(self.settings)
        if channel.secret_env and not secret:
            raise Refused(f"the secret variable {channel.secret_env} is not set; a webhook is never sent unsigned")
        if not secret and not self.unsigned_allowed:
            raise Refused("no webhook secret: set webhook_secret (CANYU_WEBHOOK_SECRET) or run `canyu init`; "
                          "a webhook is never sent unsigned")  # fmt: skip
        return secret

    def send(self, notice: Notification, deadline: float) -> None:
        channel = notice.channel
        where = self.shown(channel.target)
        secret = self.secret(channel)
        check_url(channel.target)
        body = self.body(notice)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "canyu-delivery/1",
            "X-Canyu-Notification-Id": notice.id,
            "X-Canyu-Timestamp": timestamp,
            "Accept-Encoding": "identity",  # the answer's body is never read; it need not be compressed either
        }
        if secret:
            headers["X-Canyu-Signature"] = signature(secret.encode(), timestamp, body)
        try:
            with (
                httpx.Client(
                    transport=GuardedTransport(self.settings.delivery.allowed_hosts, "deliver_allowed_hosts", deadline),
                    timeout=self.settings.delivery.timeout_s,
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


class Slack(Webhook):
    """The alert as a line of text, for Slack and the chat tools that take its webhooks."""

    kind = "slack"
    unsigned_allowed = True

    def body(self, notice: Notification) -> bytes:
        return json.dumps({"text": summary(notice)}).encode()
