"""The Faust agents, driven through ``agent.test_context()``: real tables, no broker."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from faust.topics import Topic
from faust.transport.drivers.aiokafka import Producer
from faust.types import TP

from canyu.schema import Alert, Channel, Subscription, SubscriptionMatch
from canyu.settings import Settings
from streams.app import create_app
from tests.unit.streams.factories import T0, post


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, bytes, bytes]]:
    records: list[tuple[str, bytes, bytes]] = []

    async def capture(self, *, key=None, value=None, **_):
        records.append((self.get_topic_name(), key, value))

    monkeypatch.setattr(Topic, "send", capture)
    return records


def run_agent(name: str, values: list[bytes], settings: Settings | None = None) -> None:
    run_agents([(name, [(None, value) for value in values])], settings)


def run_agents(inputs: list[tuple[str, list[tuple[bytes | None, bytes | None]]]], settings: Settings | None = None):
    """Each agent in turn, on one app, so later agents see the tables earlier ones wrote."""

    async def drive():
        app = create_app(settings or Settings(namespace="tc.", classifier="lexicon"))
        for name, records in inputs:
            async with app.agents[name].test_context() as agent:
                for key, value in records:
                    await agent.put(value, key=key)

    asyncio.run(drive())


def on(sent, topic: str) -> list:
    return [(k, v) for t, k, v in sent if t == f"tc.{topic}"]


def test_enrich_labels_posts_finds_products_and_dead_letters_bad_records(sent, tmp_path):
    good = post(1, "小米14 升级后电池续航太差了").model_dump_json(
        include={"id", "source", "text", "created_at", "author"}
    )
    run_agent("enrich", [good.encode(), b"{not json"], Settings(namespace="tc.", classifier="lexicon", home=tmp_path))
    ((key, value),) = on(sent, "posts.classified")
    classified = json.loads(value)
    assert key == b"microblog:1" and classified["products"] == ["xiaomi-14"] and classified["language"] == "zh"
    ((_, letter),) = on(sent, "dead-letters")
    assert json.loads(letter)["stage"] == "enrich"


def test_signals_counts_once_and_ignores_an_exact_redelivery(sent, tmp_path):
    value = post(1).model_dump_json().encode()
    run_agent("signals", [value, value], Settings(namespace="tc.", classifier="lexicon", home=tmp_path))
    assert len(on(sent, "posts.enriched")) == 1
    counts = dict(on(sent, "counts"))
    minute = int((T0.timestamp() // 60) * 60)
    assert counts[f"1m|topic=battery|sentiment=negative|{minute}".encode()] == b"1"
    assert len(counts) == 13  # one minute window and twelve hopping hours


def test_signals_raises_a_spike_alert_after_a_week_like_history(sent, tmp_path):
    history = [post(i, f"battery note {i} words here", at=timedelta(hours=i)) for i in range(30)]
    burst = [post(100 + i, f"battery drain burst {i}", at=timedelta(hours=30, minutes=i + 1)) for i in range(12)]
    settings = Settings(namespace="tc.", classifier="lexicon", home=tmp_path, spike_min_count=10)
    run_agent("signals", [p.model_dump_json().encode() for p in history + burst], settings)
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
    # With no broker there is no partitioner; the subscriptions table's changelog has one partition.
    monkeypatch.setattr(Producer, "key_partition", lambda self, topic, key: TP(topic, 0))
    gone = subs["battery"].model_copy(update={"id": "s3"})
    records = [(s.id.encode(), s.model_dump_json().encode()) for s in [*subs.values(), gone]]
    run_agents(
        [("subscriptions", [*records, (b"s3", None)]), ("notify", [(None, alert.model_dump_json().encode())])],
        Settings(namespace="tc.", classifier="lexicon", home=tmp_path),
    )
    ((_, value),) = on(sent, "notifications")
    notice = json.loads(value)
    assert notice["subscription_id"] == "s1" and notice["alert"]["id"] == "spike|x|1"
