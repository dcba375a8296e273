"""The stateful streams on the real broker: failover between two workers, a replayed scenario
whose alerts must reach a webhook receiver and an SMTP server, and the worker's priority beside
its classifier process."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import signal
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.request import urlopen

from canyu import topics
from canyu.schema import Alert, Channel, Post, Subscription, SubscriptionMatch
from canyu.settings import Settings
from canyu_runtime.kafka_clients import make_producer, publish
from canyu_runtime.subscriptions import SubscriptionStore
from tests.integration.conftest import free_port, read_topic, running, wait_for
from tests.local_servers import smtp_server, webhook_receiver

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def make_post(n: int, text: str, at: timedelta, repost_of: str | None = None, followers: int = 10) -> Post:
    return Post(id=f"microblog:{n}", source="microblog", text=text, created_at=T0 + at, language="en",
                author={"id": f"user{n % 50}", "followers": followers}, repost_of=repost_of)  # fmt: skip


WORDS = (
    "river mountain tiger violet harbor lantern pepper orchid falcon meadow copper willow saffron "
    "glacier thistle bamboo heron amber cobalt juniper marble otter plum quartz raven sierra tulip "
    "umber walnut yarrow zinnia acorn birch cedar dahlia ember fennel garnet hazel iris jasper kelp "
    "lotus maple nectar olive pebble quill rowan sable teal"
).split()


def distinct_text(n: int) -> str:
    """Eight random words: far apart in SimHash, so no two posts are near-duplicates."""
    return "battery " + " ".join(random.Random(n).sample(WORDS, 8))


def publish_all(settings: Settings, posts: list[Post]) -> None:
    producer = make_producer(settings)
    for post in posts:
        publish(producer, settings.topic(topics.POSTS_RAW), post)
    producer.flush()
    producer.close()


def folded_counts(settings: Settings) -> dict[str, int]:
    """The counts topic is compacted: the last value per window key is the count."""
    return {r.key.decode(): int(r.value) for r in read_topic(settings, settings.topic(topics.COUNTS))}


def assignment(port: int) -> list[list]:
    try:
        with urlopen(f"http://127.0.0.1:{port}/assignment/", timeout=5) as r:
            return json.load(r)
    except OSError:  # not serving yet
        return []


def both_hold_raw_partitions(ports: list[int], settings: Settings) -> bool:
    raw = settings.topic(topics.POSTS_RAW)
    return all(any(topic == raw for topic, _ in assignment(port)) for port in ports)


def test_a_surviving_worker_takes_over_partitions_and_table_state_without_losing_or_doubling(ns, tmp_path):
    # Every post inside one 4-minute span: no post can be late, so the counts do not depend on order.
    posts = [make_post(i, distinct_text(i), timedelta(seconds=i)) for i in range(120)]
    settings = ns.replace(classifier="lexicon")
    ports = [free_port(), free_port()]
    first, second = (settings.replace(worker_web_port=port) for port in ports)
    with (
        running("worker", first, tmp_path, name="worker-a") as a,
        running("worker", second, tmp_path, name="worker-b") as b,
    ):
        # Both must be in the group with partitions of their own before one leaves; stopping a
        # worker while the group is still forming tests a start-up race, not a failover.
        wait_for(lambda: both_hold_raw_partitions(ports, settings), what="both workers sharing the partitions")
        publish_all(settings, posts[:60])
        enriched_topic = settings.topic(topics.POSTS_ENRICHED)
        wait_for(
            lambda: len({r.key for r in read_topic(settings, enriched_topic)}) >= 30, what="half the posts through"
        )
        workers = dict(zip(ports, (a, b), strict=True))
        stateful = [settings.topic(topics.POSTS_CLASSIFIED), 0]
        owner = wait_for(lambda: next((w for port, w in workers.items() if stateful in assignment(port)), None),
                         what="an owner of the stateful partition")  # fmt: skip
        owner.send_signal(signal.SIGTERM)  # mid-stream: the other worker must take over
        owner.wait(60)
        publish_all(settings, posts[60:])
        wait_for(lambda: {r.key for r in read_topic(settings, enriched_topic)} >= {p.id.encode() for p in posts},
                 timeout=180, what="every post enriched after the failover")  # fmt: skip
    counts = folded_counts(settings)
    minutes = Counter(int((T0 + timedelta(seconds=i)).timestamp()) // 60 * 60 for i in range(120))
    expected = {f"1m|topic=battery|sentiment=neutral|{start}": n for start, n in minutes.items()}
    got = {k: v for k, v in counts.items() if k.startswith("1m|topic=battery|")}
    assert got == expected  # neither lost (lower) nor doubled (higher) across the failover


BURST = [
    "battery drains overnight now, woke up at 3 percent",
    "my battery is dead by lunch every single day this week",
    "terrible battery since Tuesday, lost half of it on the bus",
    "battery drain is awful, phone gets warm in my pocket",
    "the battery went from full to empty during one meeting",
    "anyone else seeing the battery drop twenty points an hour?",
    "battery life is broken, standby eats everything",
    "charging to full and the battery is gone before dinner, so bad",
    "worst battery week ever, had to carry a power bank",
    "battery percentage falls while the screen is off, annoying",
    "my partner's phone has the same battery drain, very poor",
    "battery dies at the train station every evening now",
    "the battery drain makes this phone useless on trips",
    "idle battery loss of thirty percent overnight, ridiculous",
    "battery health fine but the drain is terrible all day",
]


def scenario() -> tuple[list[Post], list[Post]]:
    """30 quiet hours, then a battery burst and a fast repost cascade; nothing else is unusual."""
    history, n = [], 0
    for hour in range(30):
        for text in ("my battery lasted all day, nice", "camera photos look great today"):
            history.append(make_post(n, f"{text} #{n}", timedelta(hours=hour, minutes=7 + n % 40)))
            n += 1
    burst_at = timedelta(hours=30)
    news = [make_post(n + i, text, burst_at + timedelta(minutes=2 * i)) for i, text in enumerate(BURST)]
    n += len(news)
    root = make_post(n, "Long review of the new phone: camera great, value great", burst_at, followers=500_000)
    reposts = [
        make_post(n + 1 + i, "+1", burst_at + timedelta(minutes=1 + i), repost_of=root.id, followers=1000 + i)
        for i in range(8)
    ]
    return history, [*news, root, *reposts]


def test_a_replayed_scenario_raises_exactly_the_expected_alerts_and_notifies_webhook_and_email(ns, tmp_path):
    with webhook_receiver() as hook, smtp_server() as mailbox:
        settings = ns.replace(
            classifier="lexicon",
            spike_min_count=10,
            viral_velocity=6,
            deliver_allowed_hosts=["127.0.0.1"],
            smtp_port=mailbox.port,
            webhook_secret="streams-test-key",
        )
        store = SubscriptionStore(settings)
        store.put(Subscription(id="battery", name="battery team", match=SubscriptionMatch(topics=["battery"]),
                               channel=Channel(type="webhook", target=hook.url)))  # fmt: skip
        store.put(Subscription(id="viral", name="community", match=SubscriptionMatch(alert_kinds=["viral"]),
                               channel=Channel(type="email", target="community@example.com")))  # fmt: skip
        store.put(Subscription(id="camera", name="camera team", match=SubscriptionMatch(topics=["camera"]),
                               channel=Channel(type="webhook", target=hook.url)))  # fmt: skip
        with running("worker", settings, tmp_path), running("deliver", settings, tmp_path):
            history, news = scenario()
            # The raw topic has 4 partitions, so posts published together can be processed in any
            # order; the history happened first, so it is published (and processed) first.
            publish_all(settings, history)
            enriched = settings.topic(topics.POSTS_ENRICHED)
            wait_for(lambda: len(read_topic(settings, enriched)) == len(history), what="the history processed")
            publish_all(settings, news)
            wait_for(lambda: hook.requests and mailbox.messages, timeout=180, what="the webhook and the email")
            alerts = [Alert.model_validate_json(r.value) for r in read_topic(settings, settings.topic(topics.ALERTS))]
    assert sorted((a.kind, a.key) for a in alerts) == [
        ("spike", "topic=battery|sentiment=negative"),
        ("viral", "root=microblog:75"),
    ]
    spike = next(a for a in alerts if a.kind == "spike")
    # The window is judged at the watermark, the slowest partition's time: the burst's posts on
    # partitions ahead of it are counted, and seen together once it catches up.
    assert 10 <= spike.observed <= len(BURST) and spike.baseline_mean < 1.5
    ((headers, body),) = hook.requests
    signed = hmac.new(b"streams-test-key", headers["X-Canyu-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Canyu-Signature"] == f"sha256={signed.hexdigest()}"  # signed with the default key
    notice = json.loads(body)
    assert notice["subscription_id"] == "battery" and notice["alert"]["id"] == spike.id
    (mail,) = mailbox.messages
    assert mail.rcpt_tos == ["community@example.com"] and b"viral" in mail.content


def classifier_processes(worker: int) -> list[int]:
    """The worker's children that classify (multiprocessing's resource tracker is one too)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:  # it ended meanwhile
            continue
        if parent == worker and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def test_the_worker_steps_back_for_its_classifier_process(ns, tmp_path):
    """Where they want the same core, the classifier (the slowest step) goes first: the worker's
    event loop takes ``worker_nice``, and its classifier process keeps the worker's first nice."""
    settings = ns.replace(classifier="lexicon", worker_web_port=free_port(), worker_nice=3)
    first = os.getpriority(os.PRIO_PROCESS, 0)  # what the worker starts with: this thread's
    with running("worker", settings, tmp_path) as worker:
        (classifier,) = wait_for(lambda: classifier_processes(worker.pid), what="the classifier process")
        wait_for(lambda: assignment(settings.worker.web_port), what="the worker at work")
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) == first + 3
        assert os.getpriority(os.PRIO_PROCESS, classifier) == first
