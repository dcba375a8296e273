"""The Faust agents, driven through ``agent.test_context()``: real tables, no broker."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from faust.transport.drivers.aiokafka import Consumer, Producer

from canyu.schema import Alert, Channel, ItemLifecycle, Release, Subscription, SubscriptionMatch
from canyu.settings import Settings
from canyu_runtime.retry import RetryPolicy
from streams.agents import FINGERPRINT_HEADER
from streams.app import create_app
from streams.simhash import simhash
from tests.unit.streams.factories import T0, post


class Sent(list):
    """(topic, key, value) of every record sent; ``headers`` maps (topic, key) to the record's headers."""

    def __init__(self):
        super().__init__()
        self.headers: dict[tuple[str, bytes], dict] = {}


@pytest.fixture
def sent(monkeypatch) -> Sent:
    records = Sent()

    async def capture(self, topic, key, value, partition, timestamp, headers, **_):
        records.append((topic, key, value))
        records.headers[(topic, key)] = headers
        acked = asyncio.get_running_loop().create_future()  # as if Kafka acknowledged it at once
        acked.set_result(None)
        return acked

    monkeypatch.setattr(Producer, "send", capture)  # the agents send on the app's producer
    return records


def run_agent(name: str, values: list[bytes], settings: Settings | None = None, until=lambda: True) -> None:
    run_agents([(name, [(None, value) for value in values])], settings, until)


def run_agents(inputs: list[tuple[str, list[tuple[bytes | None, bytes | None]]]], settings: Settings | None = None,
               until=lambda: True):  # fmt: skip
    """Each agent in turn, on one app, so later agents see the tables earlier ones wrote.

    The last agent runs until ``until()`` holds (for at most 10 s): ``enrich`` classifies in a
    thread, so what it sends may come after its records were taken.
    """

    async def drive():
        app = create_app(settings or Settings(namespace="tc.", classifier="lexicon"))
        for name, records in inputs:
            async with app.agents[name].test_context() as agent:
                for key, value in records:
                    await agent.put(value, key=key)
                deadline = time.monotonic() + 10
                while not until() and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)

    asyncio.run(drive())


def on(sent, topic: str) -> list:
    return [(k, v) for t, k, v in sent if t == f"tc.{topic}"]


def test_enrich_labels_posts_finds_products_and_dead_letters_bad_records(sent, tmp_path):
    good = post(1, "小米14 升级后电池续航太差了").model_dump_json(
        include={"id", "source", "text", "created_at", "author"}
    )
    run_agent("enrich", [good.encode(), b"{not json"], Settings(namespace="tc.", classifier="lexicon", home=tmp_path),
              until=lambda: len(sent) == 2)  # fmt: skip
    ((key, value),) = on(sent, "posts.classified")
    classified = json.loads(value)
    assert key == b"microblog:1" and classified["products"] == ["xiaomi-14"] and classified["language"] == "zh"
    ((_, letter),) = on(sent, "dead-letters")
    assert json.loads(letter)["stage"] == "enrich"


def test_enrich_sends_the_near_duplicate_fingerprint_and_signals_takes_it(sent, tmp_path):
    settings = Settings(namespace="tc.", classifier="lexicon", home=tmp_path)
    text = "the battery drains overnight after the latest update"
    raw = [post(i, text).model_dump_json(include={"id", "source", "text", "created_at", "author"}) for i in (1, 2)]
    run_agent("enrich", [r.encode() for r in raw], settings, until=lambda: len(sent) == 2)
    headers = [sent.headers[("tc.posts.classified", key)] for key, _ in on(sent, "posts.classified")]
    assert [h[FINGERPRINT_HEADER] for h in headers] == [str(simhash(text)).encode()] * 2

    def indexed(fingerprints: list[bytes | None]) -> list[str | None]:
        """What signals makes of the two same-text posts, sent with these fingerprint headers."""
        sent.clear()

        async def drive():
            app = create_app(settings.replace(home=tmp_path / str(fingerprints)))
            async with app.agents["signals"].test_context() as agent:
                for i, fp in zip((1, 2), fingerprints, strict=True):
                    sent_with = None if fp is None else {FINGERPRINT_HEADER: fp}
                    await agent.put(post(i, text).model_dump_json().encode(), headers=sent_with)

        asyncio.run(drive())
        return [json.loads(v)["duplicate_of"] for _, v in on(sent, "posts.enriched")]

    assert indexed([h[FINGERPRINT_HEADER] for h in headers]) == [None, "microblog:1"]
    assert indexed([b"", b""]) == [None, None]  # enrich found too few features: no near-duplicate check
    assert indexed([None, None]) == [None, "microblog:1"]  # no header (a dead letter sent back): worked out here


def test_signals_counts_once_and_ignores_an_exact_redelivery(sent, tmp_path):
    value = post(1).model_dump_json().encode()
    run_agent("signals", [value, value], Settings(namespace="tc.", classifier="lexicon", home=tmp_path))
    assert len(on(sent, "posts.enriched")) == 1
    counts = dict(on(sent, "counts"))
    minute = int((T0.timestamp() // 60) * 60)
    assert counts[f"1m|topic=battery|sentiment=negative|{minute}".encode()] == b"1"
    assert len(counts) == 1  # one minute window: the hours are sums of minutes


def battery_spike() -> list:
    """30 hours of one battery post an hour, then 12 in 12 minutes."""
    history = [post(i, f"battery note {i} words here", at=timedelta(hours=i)) for i in range(30)]
    burst = [post(100 + i, f"battery drain burst {i}", at=timedelta(hours=30, minutes=i + 1)) for i in range(12)]
    return history + burst


def test_signals_raises_a_spike_alert_after_a_week_like_history(sent, tmp_path):
    settings = Settings(namespace="tc.", classifier="lexicon", home=tmp_path, spike_min_count=10)
    run_agent("signals", [p.model_dump_json().encode() for p in battery_spike()], settings)
    alerts = [Alert.model_validate_json(v) for _, v in on(sent, "alerts")]
    assert [a.key for a in alerts] == ["topic=battery|sentiment=negative"]
    assert alerts[0].observed == 10 and alerts[0].baseline_mean == pytest.approx(1.0)


def test_notify_turns_matching_alerts_into_one_notification_per_subscription(sent, monkeypatch, tmp_path):
    subs = {
        "battery": Subscription(id="s1", name="battery team", match=SubscriptionMatch(topics=["battery"]),
                                channel=Channel(type="kafka", target="team.battery")),
        "camera": Subscription(id="s2", name="camera team", match=SubscriptionMatch(topics=["camera"]),
                               channel=Channel(type="kafka", target="team.camera")),
    }  # fmt: skip
    alert = Alert(id="spike|x|1", kind="spike", key="topic=battery|sentiment=negative",
                  dimensions={"topic": "battery", "sentiment": "negative"}, window_start=T0, window_end=T0,
                  observed=12, baseline_mean=1, baseline_std=1, threshold=10)  # fmt: skip
    following(monkeypatch, {s.id.encode(): s.model_dump_json().encode() for s in subs.values()})
    run_agent(
        "notify", [alert.model_dump_json().encode()], Settings(namespace="tc.", classifier="lexicon", home=tmp_path)
    )
    ((_, value),) = on(sent, "notifications")
    notice = json.loads(value)
    assert notice["subscription_id"] == "s1" and notice["alert"]["id"] == "spike|x|1"


@dataclass
class Followed:
    """What a worker's SubscriptionFollower holds once it has read the topic."""

    latest: dict[bytes, bytes]
    caught_up: threading.Event = field(default_factory=lambda: _set(threading.Event()))

    def start(self) -> None:
        pass


def _set(event: threading.Event) -> threading.Event:
    event.set()
    return event


def following(monkeypatch, latest: dict[bytes, bytes]) -> None:
    monkeypatch.setattr("streams.app.SubscriptionFollower", lambda settings: Followed(latest))


def raw(n: int, **changes) -> bytes:
    fields = {"id": f"forum:{n}", "source": "forum", "text": "battery drains fast", "author": {"id": "a"},
              "created_at": "2026-11-20T10:00:00+08:00", "fetched_at": "2026-11-20T10:05:00+08:00"}  # fmt: skip
    return json.dumps({**fields, **changes}).encode()


def letters(sent) -> list[dict]:
    return [json.loads(v) for _, v in on(sent, "dead-letters")]


def test_enrich_dead_letters_null_values_and_dates_outside_the_window_and_goes_on(sent, tmp_path):
    values = [
        None,
        raw(1, created_at="0001-01-01T00:00:00+05:00"),
        raw(2, created_at="2999-01-01T00:00:00Z"),
        raw(3, created_at="9999-12-31T23:59:59-05:00"),
        raw(4, fetched_at="2999-01-01T00:00:00Z", created_at="2999-01-01T00:00:00Z"),
        raw(5),
    ]
    run_agent("enrich", values, Settings(namespace="tc.", classifier="lexicon", home=tmp_path),
              until=lambda: len(sent) == 6)  # fmt: skip
    assert [k for k, _ in on(sent, "posts.classified")] == [b"forum:5"]
    found = letters(sent)
    assert [letter["offset"] is not None for letter in found] == [True] * 5
    assert "null record" in found[0]["reason"]
    assert all("outside the sane window" in letter["reason"] for letter in found[1:])
    assert all(letter["stage"] == "enrich" and letter["source"] == "forum" for letter in found[1:])


def test_enrich_retries_a_failing_classifier_then_dead_letters_the_posts_it_fails_on(sent, monkeypatch, tmp_path):
    from models import load_classifier

    lexicon = load_classifier("lexicon")
    calls = []

    class Flaky:
        name = "flaky"

        def classify(self, texts):
            calls.append(len(texts))
            if any("poison" in t for t in texts):
                raise RuntimeError("tokenizer exploded")
            return lexicon.classify(texts)

    # In a thread: a process of its own would load its classifier afresh, not this one.
    monkeypatch.setattr("streams.classifying.load_classifier", lambda name, threads: Flaky())
    monkeypatch.setattr("streams.enrich.CLASSIFIER_RETRY", RetryPolicy(first_s=0.001, max_s=0.001, attempts=3))
    run_agent("enrich", [raw(1), raw(2, text="poison pill"), raw(3)],
              Settings(namespace="tc.", classifier="lexicon", home=tmp_path, batch_size=3, classifier_process=False),
              until=lambda: len(sent) == 3)  # fmt: skip
    assert calls[:3] == [3, 3, 3]  # the batch, tried three times, then each post alone
    assert sorted(k for k, _ in on(sent, "posts.classified")) == [b"forum:1", b"forum:3"]
    (letter,) = letters(sent)
    assert letter["key"] is None and "tokenizer exploded" in letter["reason"] and letter["source"] == "forum"
    assert json.loads(base64.b64decode(letter["raw_base64"]))["id"] == "forum:2"


def test_signals_dead_letters_what_it_cannot_read_and_goes_on(sent, tmp_path):
    good = post(1).model_dump_json().encode()
    run_agent("signals", [None, b"{not json", good], Settings(namespace="tc.", classifier="lexicon", home=tmp_path))
    assert [k for k, _ in on(sent, "posts.enriched")] == [b"microblog:1"]
    assert [letter["stage"] for letter in letters(sent)] == ["signals", "signals"]


def test_notify_dead_letters_a_bad_alert_and_one_a_broken_subscription_missed(sent, monkeypatch, tmp_path):
    good = Subscription(id="s1", name="all", channel=Channel(type="kafka", target="team.all"))
    # s3 as an older release might have left it on the topic
    following(monkeypatch, {b"s1": good.model_dump_json().encode(), b"s3": b"{broken"})
    alert = Alert(id="spike|x|1", kind="spike", key="topic=battery", dimensions={"topic": "battery"},
                  window_start=T0, window_end=T0, observed=12, baseline_mean=1, baseline_std=1,
                  threshold=10)  # fmt: skip
    settings = Settings(namespace="tc.", classifier="lexicon", home=tmp_path)

    async def drive():
        app = create_app(settings)
        async with app.agents["subscriptions"].test_context() as agent:
            await agent.put(good.model_dump_json().encode(), key=b"s1")
            await agent.put(b'{"id": "s2"}', key=b"s2")  # not a subscription: a dead letter
        async with app.agents["notify"].test_context() as agent:
            await agent.put(None)
            await agent.put(alert.model_dump_json().encode())

    asyncio.run(drive())
    ((_, value),) = on(sent, "notifications")
    assert json.loads(value)["subscription_id"] == "s1"
    subs, null, missed = letters(sent)
    assert subs["stage"] == "subscriptions" and subs["key"] == "s2"
    assert null["stage"] == "notify"
    assert missed["stage"] == "notify" and "subscription s3" in missed["reason"]


def test_a_post_whose_sends_died_midway_is_sent_in_full_when_redelivered_and_counted_once(sent, monkeypatch, tmp_path):
    value = post(1).model_dump_json().encode()
    capture = Producer.send

    async def dying(self, topic, *args, **kwargs):
        if topic == "tc.counts":
            raise ConnectionError("the worker died here")
        return await capture(self, topic, *args, **kwargs)

    async def drive():
        app = create_app(Settings(namespace="tc.", classifier="lexicon", home=tmp_path))
        monkeypatch.setattr(Producer, "send", dying)
        with pytest.raises(ConnectionError):
            async with app.agents["signals"].test_context() as agent:
                await agent.put(value)
        monkeypatch.setattr(Producer, "send", capture)
        async with app.agents["signals"].test_context() as agent:
            await agent.put(value)  # the redelivery: the same post, the same fetch
            await agent.put(value)  # and again, once it was all sent: nothing

    asyncio.run(drive())
    assert [k for k, _ in on(sent, "posts.enriched")] == [b"microblog:1", b"microblog:1"]
    counts = on(sent, "counts")
    assert len(counts) == 1 and {v for _, v in counts} == {b"1"}  # sent again, in full, never counted twice


def test_table_writes_need_no_metadata_for_the_changelogs(sent, monkeypatch, tmp_path):
    # Just after a first start the consumer's metadata may not know a changelog Faust just created,
    # and counts it as 0 partitions: Faust's own tables then refused every write to that table.
    monkeypatch.setattr(Consumer, "topic_partitions", lambda self, topic: 0 if topic.endswith("-changelog") else 1)
    settings = Settings(namespace="tc.", classifier="lexicon", home=tmp_path, spike_min_count=10)
    run_agent("signals", [p.model_dump_json().encode() for p in battery_spike()], settings)
    assert on(sent, "dead-letters") == []
    assert len(on(sent, "posts.enriched")) == 42 and len(on(sent, "alerts")) == 1  # the cooldowns table was written


@pytest.mark.parametrize(
    ("agent", "good", "bad"),
    [
        ("releases", Release(product="hyperos", version="1.0.7.0", date=T0), b'{"product": "hyperos"}'),
        ("lifecycles", ItemLifecycle(item_id="item-1", state="acknowledged"), b'{"item_id": "i", "state": "gone"}'),
    ],
)
def test_a_record_on_a_registry_topic_that_is_none_becomes_a_dead_letter(sent, tmp_path, agent, good, bad):
    settings = Settings(namespace="tc.", classifier="lexicon", home=tmp_path)

    async def drive():
        app = create_app(settings)
        async with app.agents[agent].test_context() as checker:
            await checker.put(good.model_dump_json().encode(), key=b"good")
            await checker.put(None, key=b"removed")  # a tombstone: nothing wrong with it
            await checker.put(bad, key=b"bad")

    asyncio.run(drive())
    (letter,) = letters(sent)
    assert letter["stage"] == agent and letter["key"] == "bad" and letter["reason"]
