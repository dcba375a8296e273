"""The delivery sink against a local webhook receiver and a local SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import tracemalloc
import zlib
from datetime import datetime, timezone
from email import message_from_bytes

import pytest

from canyu.schema import Alert, Channel, Notification
from canyu.settings import Settings
from canyu_runtime.errors import RetryLater
from sinks.delivery import DeliverySink, Refused, signature
from tests.local_servers import smtp_server, webhook_receiver

T = datetime(2026, 11, 20, tzinfo=timezone.utc)
ALERT = Alert(id="spike|topic=battery|1", kind="spike", key="topic=battery", dimensions={"topic": "battery"},
              window_start=T, window_end=T, observed=20, baseline_mean=2, baseline_std=1, threshold=10,
              samples=["battery drains overnight"])  # fmt: skip


@pytest.fixture
def receiver():
    with webhook_receiver() as hook:
        yield hook


def sink(**overrides) -> DeliverySink:
    settings = Settings(**{"deliver_allowed_hosts": ["127.0.0.1"], "deliver_attempts": 3, **overrides})
    return DeliverySink(settings)


def notice(channel: Channel) -> Notification:
    return Notification(id="n-1", subscription_id="s", channel=channel, alert=ALERT)


def test_a_webhook_gets_the_notification_signed_over_timestamp_and_body(receiver, monkeypatch):
    monkeypatch.setenv("TEAM_SECRET", "s3cret")
    sink().deliver(notice(Channel(type="webhook", target=receiver.url, secret_env="TEAM_SECRET")))
    ((headers, body),) = receiver.requests
    assert json.loads(body)["alert"]["id"] == ALERT.id
    assert headers["X-Canyu-Notification-Id"] == "n-1"
    expected = hmac.new(b"s3cret", headers["X-Canyu-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Canyu-Signature"] == f"sha256={expected}"


def test_slack_gets_a_readable_text(receiver):
    sink().deliver(notice(Channel(type="slack", target=receiver.url)))
    text = json.loads(receiver.requests[0][1])["text"]
    assert "spike alert" in text and "battery" in text and "threshold 10" in text


def test_a_server_error_is_retried_and_a_client_error_is_not(receiver):
    receiver.statuses = [503, 502]
    with pytest.raises(RetryLater, match="503"):
        sink().deliver(notice(Channel(type="webhook", target=receiver.url)))
    receiver.statuses = [404]
    with pytest.raises(Refused, match="404"):
        sink().deliver(notice(Channel(type="webhook", target=receiver.url)))


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    assert signature(b"k", "1", b"{}") == "sha256=" + hmac.new(b"k", b"1.{}", hashlib.sha256).hexdigest()


def test_email_goes_through_smtp_with_the_notification_id():
    with smtp_server() as mailbox:
        sink(smtp_port=mailbox.port).deliver(notice(Channel(type="email", target="battery-team@example.com")))
    (envelope,) = mailbox.messages
    message = message_from_bytes(envelope.content)
    assert envelope.rcpt_tos == ["battery-team@example.com"]
    assert message["Message-ID"] == "<n-1@canyu>"
    assert "battery drains overnight" in message.get_payload()


def test_a_webhook_whose_secret_variable_is_unset_is_refused_not_sent_unsigned(receiver, monkeypatch):
    monkeypatch.delenv("UNSET_TEAM_SECRET", raising=False)
    with pytest.raises(Refused, match="UNSET_TEAM_SECRET is not set"):
        sink().deliver(notice(Channel(type="webhook", target=receiver.url, secret_env="UNSET_TEAM_SECRET")))
    assert receiver.requests == []


def test_a_webhook_signed_with_the_default_secret_when_it_names_none(receiver):
    sink(webhook_secret="k").deliver(notice(Channel(type="webhook", target=receiver.url)))
    ((headers, _),) = receiver.requests
    assert headers["X-Canyu-Signature"].startswith("sha256=")


def test_a_receivers_compressed_answer_is_never_decoded(receiver):
    """A gzip bomb in the answer (64 MB of zeros, 64 KB on the wire) costs nothing: the body is never read."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    receiver.body = b"".join(packer.compress(bytes(1 << 20)) for _ in range(64)) + packer.flush()
    receiver.headers = {"Content-Encoding": "gzip"}
    tracemalloc.start()
    try:
        sink(webhook_secret="k").deliver(notice(Channel(type="webhook", target=receiver.url)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(receiver.requests) == 1
    assert peak < 32_000_000  # the receiver's thread takes a few MB; reading the answer whole took 148 MB
