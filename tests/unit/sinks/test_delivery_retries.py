"""The delivery sink's retries: through the retry topic with backoff, give-up, refusal, deadlines and shutdown."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from canyu.schema import Channel, DeadLetter
from canyu_runtime.errors import RetryLater
from canyu_runtime.outbound import Refused
from canyu_runtime.retry import RetryPolicy
from sinks.delivery.retry_topic import DUE_HEADER, TRIES_HEADER, GiveUp, TryAgain, verdict
from sinks.delivery.scheduler import Clock, Job
from tests.local_servers import webhook_receiver
from tests.unit.sinks.test_delivery import notice, sink


class Acked:
    def get(self, timeout=None):
        return None


class Producer:
    """Stands in for Kafka: keeps what was sent to the retry topic."""

    def __init__(self):
        self.sent: list[SimpleNamespace] = []

    def send(self, topic, key=None, value=None, headers=None):
        self.sent.append(SimpleNamespace(topic=topic, partition=0, offset=len(self.sent), key=key, value=value,
                                         headers=headers or []))  # fmt: skip
        return Acked()


class Letters:
    """Stands in for the dead-letter writer: keeps what would have been sent."""

    def __init__(self):
        self.sent: list[DeadLetter] = []
        self.producer = Producer()

    def send_all(self, letters: list[DeadLetter]) -> None:
        self.sent += letters

    def close(self) -> None:
        pass


class KeptWaits(Clock):
    """The system's monotonic time, for the real requests' deadlines; an epoch time that moves only by the waits
    asked for, which it keeps. With ``shutdown``, a shutdown comes during the first wait."""

    def __init__(self, shutdown: bool = False):
        self.now, self.waits, self.shutdown = 1000.0, [], shutdown

    def time(self) -> float:
        return self.now

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        if self.shutdown:
            stop.set()
        return stop.is_set()


@pytest.fixture
def receiver():
    with webhook_receiver() as hook:
        yield hook


@pytest.fixture
def delivery():
    d = sink(deliver_timeout_s=1, deliver_deadline_s=2)  # deliver_attempts=3
    d.delivery_retry = dataclasses.replace(d.delivery_retry, first_s=0.01, max_s=0.02)
    d.dead_letters = Letters()
    d.clock = KeptWaits()
    yield d
    d.close()


def record(receiver, value: bytes | None = None):
    body = value or notice(Channel(type="webhook", target=receiver.url)).model_dump_json().encode()
    return SimpleNamespace(topic="notifications", partition=0, offset=7, key=b"n-1", value=body, headers=[])


def retries(delivery) -> list[SimpleNamespace]:
    """What the last batch sent to the retry topic, taken off it."""
    sent, delivery.dead_letters.producer.sent = delivery.dead_letters.producer.sent, []
    assert all(r.topic == delivery.retry_topic for r in sent)
    return sent


def until_settled(delivery, batch) -> int:
    """Write the batch, then what it sent to the retry topic, until nothing is left; how many batches."""
    batches = 0
    while batch:
        delivery.write(batch)
        batches += 1
        batch = retries(delivery)
    return batches


def tries(retried) -> int:
    return int(dict(retried.headers)[TRIES_HEADER])


def test_the_retry_policy_comes_from_the_settings():
    policy = sink(deliver_backoff_s=2, deliver_max_backoff_s=40).delivery_retry
    assert (policy.attempts, policy.first_s, policy.max_s) == (3, 2, 40)


def test_the_sink_reads_the_retry_topic_too():
    assert sink().topics == ["notifications", "notifications.retry"]


def test_a_failure_goes_to_the_retry_topic_with_a_backoff_instead_of_holding_the_batch(delivery, receiver):
    receiver.statuses = [503]
    failing = record(receiver)
    delivery.write([failing])
    (retried,) = retries(delivery)
    assert len(receiver.requests) == 1 and tries(retried) == 1
    assert retried.key == b"n-1" and retried.value == failing.value
    assert 1000.005 <= float(dict(retried.headers)[DUE_HEADER]) <= 1000.01  # the first backoff, 0.01 s with jitter
    assert delivery.clock.waits == [] and delivery.dead_letters.sent == []  # the batch did not wait for it


def test_a_webhook_that_fails_twice_is_delivered_on_the_third_attempt(delivery, receiver):
    receiver.statuses = [503, 502]
    assert until_settled(delivery, [record(receiver)]) == 3
    assert len(receiver.requests) == 3
    assert delivery.dead_letters.sent == []


def test_a_retry_waits_until_it_is_due(delivery, receiver):
    delivery.delivery_retry = dataclasses.replace(delivery.delivery_retry, first_s=0.5, max_s=0.5)
    receiver.statuses = [503]
    delivery.write([record(receiver)])
    (retried,) = retries(delivery)
    due = float(dict(retried.headers)[DUE_HEADER])
    sent_at, deliver = [], delivery.deliver
    delivery.deliver = lambda notice, deadline=None: sent_at.append(delivery.clock.time()) or deliver(notice, deadline)
    delivery.write([retried])
    assert delivery.clock.waits == [pytest.approx(due - 1000.0)]  # the backoff, 0.25 to 0.5 s
    assert sent_at == [pytest.approx(due)] and len(receiver.requests) == 2


def test_a_webhook_that_always_fails_is_dead_lettered_after_the_last_attempt(delivery, receiver):
    receiver.statuses = [503] * 10
    until_settled(delivery, [record(receiver)])
    assert len(receiver.requests) == 3
    (letter,) = delivery.dead_letters.sent
    assert letter.stage == "deliver" and letter.key == "n-1"
    assert letter.reason.startswith("gave up after 3 attempts:") and "503" in letter.reason


def test_an_unreachable_webhook_is_retried_then_dead_lettered(delivery, receiver):
    url = "http://127.0.0.1:9/hook"  # the discard port: nothing listens
    until_settled(delivery, [record(receiver, notice(Channel(type="webhook", target=url)).model_dump_json().encode())])
    (letter,) = delivery.dead_letters.sent
    assert letter.reason.startswith("gave up after 3 attempts:")


@pytest.mark.parametrize("status", [404, 410, 302])
def test_a_client_error_or_a_redirect_is_refused_at_once(delivery, receiver, status):
    receiver.statuses = [status]
    delivery.write([record(receiver)])
    assert len(receiver.requests) == 1 and retries(delivery) == []
    (letter,) = delivery.dead_letters.sent
    assert letter.reason.startswith("refused:") and str(status) in letter.reason


@pytest.mark.parametrize("status", [408, 429])
def test_timeout_and_too_many_requests_are_retried(delivery, receiver, status):
    receiver.statuses = [status]
    until_settled(delivery, [record(receiver)])
    assert len(receiver.requests) == 2
    assert delivery.dead_letters.sent == []


def test_a_forbidden_address_is_refused_without_a_request(delivery, receiver):
    delivery.settings = delivery.settings.replace(deliver_allowed_hosts=[])
    delivery.write([record(receiver)])
    assert receiver.requests == []
    (letter,) = delivery.dead_letters.sent
    assert letter.reason.startswith("refused:") and "non-public" in letter.reason


def test_an_unset_secret_is_dead_lettered_with_a_clear_reason(delivery, receiver, monkeypatch):
    monkeypatch.delenv("UNSET_TEAM_SECRET", raising=False)
    channel = Channel(type="webhook", target=receiver.url, secret_env="UNSET_TEAM_SECRET")
    delivery.write([record(receiver, notice(channel).model_dump_json().encode())])
    assert receiver.requests == []
    (letter,) = delivery.dead_letters.sent
    assert (
        letter.reason == "refused: the secret variable UNSET_TEAM_SECRET is not set; a webhook is never sent unsigned"
    )


def test_an_invalid_notification_is_dead_lettered_with_a_short_reason(delivery, receiver):
    delivery.write([record(receiver, b'{"id": "n-1"}')])
    (letter,) = delivery.dead_letters.sent
    assert letter.reason.startswith("not a valid Notification: ") and "Field required" in letter.reason


def test_a_stored_notification_with_a_bad_target_is_dead_lettered_not_retried(delivery, receiver):
    good = notice(Channel(type="email", target="team@example.com")).model_dump_json()
    delivery.write([record(receiver, good.replace("team@example.com", "a@b.com\\r\\nBcc: x@y.z").encode())])
    (letter,) = delivery.dead_letters.sent
    assert letter.reason.startswith("not a valid Notification: ") and "control character" in letter.reason


def test_a_stop_during_the_backoff_ends_the_batch_promptly_and_sends_nothing(delivery, receiver):
    receiver.statuses = [503] * 10
    delivery.write([record(receiver)])
    (retried,) = retries(delivery)
    retried.headers = [(TRIES_HEADER, b"1"), (DUE_HEADER, b"1060.000")]  # due in a minute
    receiver.statuses = []  # the fresh notification is delivered; the retry waits for its time
    delivery.clock = KeptWaits(shutdown=True)
    delivery.write([retried, record(receiver)])
    assert delivery.clock.waits == [0.5]  # one look at the time, then the shutdown ended the wait and the batch
    assert len(receiver.requests) == 2  # the failure before, and the fresh notification; never the retry
    assert retries(delivery) == [] and delivery.dead_letters.sent == []  # nothing settled: the batch comes again


def test_a_slack_webhooks_secret_path_stays_out_of_logs_and_dead_letters(delivery, receiver, caplog):
    secret_url = f"{receiver.url}/services/T000/B000/XXXXsecretXXXX"
    receiver.statuses = [200, 503, 503, 503]
    caplog.set_level("INFO")
    for _ in range(2):
        until_settled(
            delivery, [record(receiver, notice(Channel(type="slack", target=secret_url)).model_dump_json().encode())]
        )
    (letter,) = delivery.dead_letters.sent
    assert "delivered" in caplog.text and "503" in letter.reason
    assert "XXXXsecretXXXX" not in caplog.text and "XXXXsecretXXXX" not in letter.reason


@dataclasses.dataclass
class Silent:
    url: str
    connections: int = 0  # taken so far


@contextmanager
def silent_endpoint(drip: bytes | None = None):
    """A server that takes connections, and counts them, and never answers; or, with ``drip``, answers a byte
    every 0.2 s."""
    server = socket.create_server(("127.0.0.1", 0))
    endpoint = Silent(f"http://127.0.0.1:{server.getsockname()[1]}/hook")
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        held = []
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
                endpoint.connections += 1
            except OSError:
                pass
            if drip:
                for conn in held:
                    try:
                        conn.sendall(drip[:1])
                    except OSError:
                        pass
                time.sleep(0.2)
        for conn in held:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        stop.set()
        thread.join()
        server.close()


def test_a_dead_endpoint_does_not_starve_the_others_and_costs_one_timeout(delivery, receiver):
    with silent_endpoint() as dead:
        batch = [record(receiver, notice(Channel(type="webhook", target=dead.url)).model_dump_json().encode())] * 6
        batch.append(record(receiver))
        delivery.write(batch)
    assert len(receiver.requests) == 1  # the healthy receiver got its notification in the same batch
    assert dead.connections == 1  # one try, so one timeout (1 s), not six
    retried = retries(delivery)
    assert len(retried) == 6 and sorted(map(tries, retried)) == [0, 0, 0, 0, 0, 1]  # untried ones spent no try
    assert delivery.dead_letters.sent == []


def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_deadline(delivery, receiver, caplog):
    with silent_endpoint(drip=b"H" * 1000) as dripping:
        channel = Channel(type="webhook", target=dripping.url)
        delivery.write([record(receiver, notice(channel).model_dump_json().encode())])
    (retried,) = retries(delivery)
    assert tries(retried) == 1
    # The request itself ended at the deadline, though every read got a byte within its timeout; had it gone on
    # dripping, the scheduler would have left it running and said "no answer within 2s".
    assert "ReadTimeout); try 2" in caplog.text and "no answer within" not in caplog.text


@pytest.mark.parametrize("asked", ["-5", "nan", "-inf"])
def test_a_negative_or_nan_retry_after_does_not_skip_the_backoff(delivery, receiver, asked):
    receiver.statuses, receiver.headers = [429], {"Retry-After": asked}
    delivery.write([record(receiver)])
    (retried,) = retries(delivery)
    assert 1000.005 <= float(dict(retried.headers)[DUE_HEADER]) <= 1000.01  # the backoff's, not a wait in the past


def test_a_kafka_channel_is_delivered_once_the_broker_acknowledged_it(delivery, receiver):
    delivery.write([record(receiver, notice(Channel(type="kafka", target="team.battery")).model_dump_json().encode())])
    (sent,) = delivery.dead_letters.producer.sent
    assert sent.topic == "team.battery" and sent.key == b"n-1" and b"spike|topic=battery|1" in sent.value
    assert delivery.dead_letters.sent == []


# --- What becomes of a served job: the retry topic's bookkeeping, without a receiver ---------------------------------

POLICY = RetryPolicy(first_s=10, max_s=60, attempts=3)


def served(tries: int = 0, started: bool = True, outcome: BaseException | None = None, done: bool = True) -> Job:
    channel = Channel(type="webhook", target="https://hooks.example.com/x")
    return Job(SimpleNamespace(value=b"{}"), notice(channel), "https://hooks.example.com:", tries, 0.0, started,
               outcome, done)  # fmt: skip


def test_a_job_never_started_goes_back_due_now_without_spending_a_try():
    assert verdict(served(tries=2, started=False, done=False), POLICY, 1000.0, 5) == TryAgain(2, 1000.0, None)


def test_a_failure_is_due_after_the_backoff_and_a_retry_after_is_capped_by_the_longest_wait():
    step = verdict(served(outcome=OSError("reset")), POLICY, 1000.0, 5)
    assert isinstance(step, TryAgain) and step.tries == 1 and 1005.0 <= step.due <= 1010.0  # 10 s, jitter in [0.5, 1]
    asked = verdict(served(outcome=RetryLater("429", retry_after_s=3600)), POLICY, 1000.0, 5)
    assert asked == TryAgain(1, 1060.0, asked.error)


def test_the_last_try_a_refusal_and_a_cut_off_request_each_read_clearly():
    assert verdict(served(tries=2, outcome=OSError("reset")), POLICY, 0, 5) == GiveUp(
        "gave up after 3 attempts: reset")  # fmt: skip
    assert verdict(served(outcome=Refused("410")), POLICY, 0, 5) == GiveUp("refused: 410")
    cut_off = verdict(served(done=False), POLICY, 0, 5)  # started, and the deadline came first
    assert isinstance(cut_off, TryAgain) and str(cut_off.error) == "no answer within 5s"
