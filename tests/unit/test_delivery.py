"""The delivery sink against a local webhook receiver and a local SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import datetime, timezone
from email import message_from_bytes

import pytest

from canyu.schema import Alert, Channel, Notification
from canyu.settings import Settings
from canyu_runtime.errors import RetryLater
from sinks.delivery import DeliverySink, Refused, check_address, signature
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


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://10.0.0.8/x", "http://[::1]/x", "http://169.254.169.254/"]
)
def test_private_and_loopback_addresses_are_refused_unless_allowed(url):
    with pytest.raises(Refused, match="non-public"):
        check_address(url, allowed_hosts=[])


def test_non_http_urls_are_refused():
    with pytest.raises(Refused, match="not an http"):
        check_address("file:///etc/passwd", allowed_hosts=[])


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


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::a9fe:a9fe]/x",  # NAT64 of 169.254.169.254
        "http://[64:ff9b::7f00:1]/x",  # NAT64 of 127.0.0.1
        "http://[2002:a00:8::]/x",  # 6to4 of 10.0.0.8
        "http://[2002:7f00:1::]/x",  # 6to4 of 127.0.0.1
        "http://[::ffff:127.0.0.1]/x",  # IPv4-mapped
        "http://[::ffff:a9fe:a9fe]/x",  # IPv4-mapped, written in hex
        "http://[::127.0.0.1]/x",  # IPv4-compatible
    ],
)
def test_ipv6_forms_of_private_addresses_are_refused(url):
    with pytest.raises(Refused, match="non-public"):
        check_address(url, allowed_hosts=[])


def test_ipv6_forms_of_public_addresses_pass():
    assert check_address("http://[64:ff9b::808:808]/x", allowed_hosts=[]) == "64:ff9b::808:808"


def test_the_connection_goes_to_the_address_that_was_checked(receiver, monkeypatch):
    """DNS rebinding: the host answers a public address, then 127.0.0.1; the second answer is never asked for."""
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    real_resolve, real_connect = socket.getaddrinfo, socket.create_connection
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])
    asked, connected = [], []

    def rebinding(host, *args, **kwargs):
        if host != "hook.test":
            return real_resolve(host, *args, **kwargs)
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    def connect(address, *args, **kwargs):  # the public address is, here, the receiver
        connected.append(address[0])
        return real_connect(("127.0.0.1" if address[0] == "93.184.216.34" else address[0], address[1]), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(socket, "create_connection", connect)
    sink(deliver_allowed_hosts=[], deliver_timeout_s=2).deliver(
        notice(Channel(type="webhook", target=f"http://hook.test:{port}/hook"))
    )
    assert asked == ["hook.test"] and connected == ["93.184.216.34"]
    ((headers, _),) = receiver.requests
    assert headers["Host"] == f"hook.test:{port}"


def test_a_webhook_whose_secret_variable_is_unset_is_refused_not_sent_unsigned(receiver, monkeypatch):
    monkeypatch.delenv("UNSET_TEAM_SECRET", raising=False)
    with pytest.raises(Refused, match="UNSET_TEAM_SECRET is not set"):
        sink().deliver(notice(Channel(type="webhook", target=receiver.url, secret_env="UNSET_TEAM_SECRET")))
    assert receiver.requests == []


def test_a_webhook_signed_with_the_default_secret_when_it_names_none(receiver):
    sink(webhook_secret="k").deliver(notice(Channel(type="webhook", target=receiver.url)))
    ((headers, _),) = receiver.requests
    assert headers["X-Canyu-Signature"].startswith("sha256=")
