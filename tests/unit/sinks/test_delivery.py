"""The delivery sink against a local webhook receiver and a local SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import tracemalloc
import zlib
from datetime import datetime, timezone
from email import message_from_bytes
from pathlib import Path

import pytest

from canyu.schema import Alert, Channel, Notification, Subscription
from canyu.settings import Settings
from canyu_runtime.errors import Misconfigured, RetryLater
from canyu_runtime.outbound import Refused
from canyu_runtime.private import ensure_webhook_secret, webhook_secret
from canyu_runtime.subscriptions import SubscriptionStore
from sinks.delivery import DeliverySink
from sinks.delivery.webhook import signature
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
    settings = Settings(**{"deliver_allowed_hosts": ["127.0.0.1"], "deliver_attempts": 3,
                           "webhook_secret": "test-webhook-key", **overrides})  # fmt: skip
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


# --- Signed by default ------------------------------------------------------------------------------------------------


def verifies(secret: bytes, headers: dict, body: bytes) -> bool:
    expected = hmac.new(secret, headers["X-Canyu-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return headers.get("X-Canyu-Signature") == f"sha256={expected}"


def test_a_webhook_is_signed_with_the_secret_that_canyu_init_stored(receiver, tmp_path):
    settings = Settings(home=tmp_path, namespace="t.")
    assert "secrets/t.webhook_secret" in ensure_webhook_secret(settings)  # what `canyu init` prints: where, not what
    sink(home=tmp_path, namespace="t.", webhook_secret=None).deliver(
        notice(Channel(type="webhook", target=receiver.url)))  # fmt: skip
    ((headers, body),) = receiver.requests
    assert verifies(webhook_secret(settings).encode(), headers, body)


def test_a_webhook_with_no_secret_to_be_found_is_refused_never_sent_unsigned(receiver, tmp_path):
    with pytest.raises(Refused, match="no webhook secret: set webhook_secret"):
        sink(home=tmp_path, webhook_secret=None).deliver(notice(Channel(type="webhook", target=receiver.url)))
    assert receiver.requests == []


def subscribed(monkeypatch, *channels: Channel) -> None:
    """The subscriptions topic, as SubscriptionStore reads it, holding one subscription per channel."""
    found = {f"s-{i}": Subscription(id=f"s-{i}", name=f"team {i}", channel=c) for i, c in enumerate(channels)}
    monkeypatch.setattr(SubscriptionStore, "current", lambda self: found)


def test_delivery_refuses_to_start_while_a_webhook_relies_on_a_default_secret_that_does_not_exist(
    tmp_path, monkeypatch
):
    subscribed(monkeypatch, Channel(type="email", target="a@example.com"),
               Channel(type="webhook", target="https://hooks.example.com/x"))  # fmt: skip
    delivery = sink(home=tmp_path, webhook_secret=None)
    with pytest.raises(Misconfigured, match=r"s-1 name no secret_env.*set webhook_secret \(CANYU_WEBHOOK_SECRET\)"):
        delivery.prepare()
    ensure_webhook_secret(delivery.settings)  # `canyu init`
    delivery.prepare()


def test_delivery_starts_when_every_webhook_names_its_own_secret(tmp_path, monkeypatch):
    subscribed(monkeypatch, Channel(type="webhook", target="https://hooks.example.com/x", secret_env="TEAM_SECRET"),
               Channel(type="slack", target="https://hooks.slack.com/services/T/B/X"))  # fmt: skip
    sink(home=tmp_path, webhook_secret=None).prepare()


def receivers_check():
    """The receiver's side of the signature, as docs/production.md shows it: its code, run as it is."""
    doc = (Path(__file__).parents[3] / "docs" / "production.md").read_text(encoding="utf-8")
    section = doc.split("## Webhooks are signed", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 12  # a short example, as the doc promises
    found: dict = {}
    exec(compile(code, "docs/production.md", "exec"), found)  # noqa: S102 - our own doc's example
    return found["from_canyu"]


def test_the_receivers_check_in_the_docs_accepts_what_delivery_sends_and_nothing_else(receiver, tmp_path):
    from_canyu = receivers_check()
    settings = Settings(home=tmp_path)
    ensure_webhook_secret(settings)
    sink(home=tmp_path, webhook_secret=None).deliver(notice(Channel(type="webhook", target=receiver.url)))
    ((headers, body),) = receiver.requests
    secret = webhook_secret(settings).encode()
    assert from_canyu(secret, headers, body)
    assert not from_canyu(secret, headers, body.replace(b"battery", b"camera"))  # a body changed on the way
    assert not from_canyu(b"another key", headers, body)
    assert not from_canyu(secret, {**headers, "X-Canyu-Timestamp": str(int(headers["X-Canyu-Timestamp"]) - 3600)},
                          body)  # an old request, replayed  # fmt: skip
    assert not from_canyu(secret, {k: v for k, v in headers.items() if k != "X-Canyu-Signature"}, body)
