"""The delivery sink's retries under the one retry policy: recovery, give-up, refusal and shutdown."""

from __future__ import annotations

import dataclasses
import threading
import time
from types import SimpleNamespace

import pytest

from canyu.schema import Channel, DeadLetter
from tests.local_servers import webhook_receiver
from tests.unit.test_delivery import notice, sink


class Letters:
    """Stands in for the dead-letter writer: keeps what would have been sent."""

    def __init__(self):
        self.sent: list[DeadLetter] = []

    def send_all(self, letters: list[DeadLetter]) -> None:
        self.sent += letters

    def close(self) -> None:
        pass


@pytest.fixture
def receiver():
    with webhook_receiver() as hook:
        yield hook


@pytest.fixture
def delivery():
    d = sink()  # deliver_attempts=3
    d.delivery_retry = dataclasses.replace(d.delivery_retry, first_s=0.01, max_s=0.02)
    d.dead_letters = Letters()
    yield d
    d.close()


def record(receiver, value: bytes | None = None):
    body = value or notice(Channel(type="webhook", target=receiver.url)).model_dump_json().encode()
    return SimpleNamespace(topic="notifications", partition=0, offset=7, key=b"n-1", value=body)


def test_attempts_come_from_the_settings():
    assert sink().delivery_retry.attempts == 3


def test_a_webhook_that_fails_twice_is_delivered_on_the_third_attempt(delivery, receiver):
    receiver.statuses = [503, 502]
    delivery.write([record(receiver)])
    assert len(receiver.requests) == 3
    assert delivery.dead_letters.sent == []


def test_a_webhook_that_always_fails_is_dead_lettered_after_the_last_attempt(delivery, receiver):
    receiver.statuses = [503] * 10
    delivery.write([record(receiver)])
    assert len(receiver.requests) == 3
    (letter,) = delivery.dead_letters.sent
    assert letter.stage == "deliver" and letter.offset == 7 and letter.key == "n-1"
    assert letter.reason.startswith("gave up after 3 attempts:") and "503" in letter.reason


def test_an_unreachable_webhook_is_retried_then_dead_lettered(delivery, receiver):
    url = "http://127.0.0.1:9/hook"  # the discard port: nothing listens
    delivery.write([record(receiver, notice(Channel(type="webhook", target=url)).model_dump_json().encode())])
    (letter,) = delivery.dead_letters.sent
    assert letter.reason.startswith("gave up after 3 attempts:")


@pytest.mark.parametrize("status", [404, 410, 302])
def test_a_client_error_or_a_redirect_is_refused_at_once(delivery, receiver, status):
    receiver.statuses = [status]
    delivery.write([record(receiver)])
    assert len(receiver.requests) == 1
    (letter,) = delivery.dead_letters.sent
    assert letter.reason.startswith("refused:") and str(status) in letter.reason


@pytest.mark.parametrize("status", [408, 429])
def test_timeout_and_too_many_requests_are_retried(delivery, receiver, status):
    receiver.statuses = [status]
    delivery.write([record(receiver)])
    assert len(receiver.requests) == 2
    assert delivery.dead_letters.sent == []


def test_a_forbidden_address_is_refused_without_a_request(delivery, receiver):
    delivery.settings = delivery.settings.model_copy(update={"deliver_allowed_hosts": []})
    delivery.write([record(receiver)])
    assert receiver.requests == []
    (letter,) = delivery.dead_letters.sent
    assert letter.reason.startswith("refused:") and "non-public" in letter.reason


def test_an_invalid_notification_is_dead_lettered_with_a_short_reason(delivery, receiver):
    delivery.write([record(receiver, b'{"id": "n-1"}')])
    (letter,) = delivery.dead_letters.sent
    assert letter.reason.startswith("not a valid Notification: ") and "Field required" in letter.reason


def test_a_stop_during_the_backoff_ends_the_batch_promptly_and_dead_letters_nothing(delivery, receiver):
    receiver.statuses = [503] * 10
    delivery.delivery_retry = dataclasses.replace(delivery.delivery_retry, first_s=60.0, max_s=60.0)
    threading.Timer(0.3, delivery.stop.set).start()
    started = time.monotonic()
    delivery.write([record(receiver), record(receiver)])
    assert time.monotonic() - started < 5
    assert len(receiver.requests) == 1  # the second notification is left for the next start
    assert delivery.dead_letters.sent == []


def test_a_slack_webhooks_secret_path_stays_out_of_logs_and_dead_letters(delivery, receiver, caplog):
    secret_url = f"{receiver.url}/services/T000/B000/XXXXsecretXXXX"
    receiver.statuses = [200, 503, 503, 503]
    caplog.set_level("INFO")
    for _ in range(2):
        delivery.write([record(receiver, notice(Channel(type="slack", target=secret_url)).model_dump_json().encode())])
    (letter,) = delivery.dead_letters.sent
    assert "delivered" in caplog.text and "503" in letter.reason
    assert "XXXXsecretXXXX" not in caplog.text and "XXXXsecretXXXX" not in letter.reason
