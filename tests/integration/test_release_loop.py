"""The maker's loop on the real Kafka and Elasticsearch, with the worker, the sink and delivery running.

HyperOS 1.0.7.0 ships on 2026-11-20 and brings a WiFi bug: the regression alert reaches a webhook,
signed. Engineers mark the WiFi bug and a Bluetooth bug fixed in 1.0.8.0 (`canyu item fix`), which
ships on 2026-11-23. The WiFi bug is never reported again and is verified; people on 1.0.8.0 keep
reporting the Bluetooth bug, and the fix_failed alert reaches the webhook. `canyu release report`
shows the regression.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from canyu import topics
from canyu.schema import Alert, Channel, Post, Release, Subscription, SubscriptionMatch
from canyu.settings import Settings
from canyu_runtime.elastic import client
from canyu_runtime.kafka_clients import make_producer, publish
from canyu_runtime.registry import releases
from canyu_runtime.subscriptions import SubscriptionStore
from tests.integration.conftest import env_for, read_topic, running, wait_for
from tests.local_servers import webhook_receiver

D = datetime(2026, 11, 20, tzinfo=timezone.utc)
DAY = timedelta(days=1)
SECRET = "a-webhook-secret-for-the-test"
# Each report in other words, as people write them: copies would be near-duplicates, counted once.
WIFI = [
    "wifi keeps disconnecting every few minutes on HyperOS 1.0.7.0 and reconnects by itself, bug",
    "since HyperOS 1.0.7.0 my wifi disconnects constantly, pages stop loading, clearly a bug",
    "HyperOS 1.0.7.0 wifi bug: the connection disconnects whenever the screen is locked",
    "wifi disconnecting all day on HyperOS 1.0.7.0, router is fine, other phones fine, bug",
]
BLUETOOTH = [
    "bluetooth earbuds cut out every minute on HyperOS {v}, audio stutters, a bug",
    "HyperOS {v} bluetooth bug: headphones stutter and cut out while walking",
]
BATTERY = [
    "battery drains fast overnight on HyperOS, lost thirty percent idle, bug",
    "HyperOS battery bug: drains while the phone sleeps, twenty percent gone by morning",
    "idle battery drain on HyperOS is a bug, the phone is warm in my pocket and loses charge",
    "overnight the battery dropped from full to sixty on HyperOS, this drain bug again",
]


def post(n: int, text: str, at: datetime, author: str | None = None) -> Post:
    return Post(id=f"forum:{n}", source="forum", text=text, created_at=at, language="en",
                author={"id": author or f"user{n}"})  # fmt: skip


def publish_all(settings: Settings, posts: list[Post]) -> None:
    producer = make_producer(settings)
    for p in posts:
        publish(producer, settings.topic(topics.POSTS_RAW), p)
    producer.flush()
    producer.close()


def alerts_of(settings: Settings, kind: str) -> list[Alert]:
    records = read_topic(settings, settings.topic(topics.ALERTS))
    return [a for a in (Alert.model_validate_json(r.value) for r in records) if a.kind == kind]


def notified(hook, kind: str) -> list[dict]:
    return [json.loads(body) for _, body in hook.requests if json.loads(body)["alert"]["kind"] == kind]


def signed(headers: dict, body: bytes) -> bool:
    """What a receiver checks: HMAC-SHA256 of "<timestamp>.<body>" under the shared secret."""
    expected = hmac.new(SECRET.encode(), headers["X-Canyu-Timestamp"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["X-Canyu-Signature"], f"sha256={expected.hexdigest()}")


def item_doc(settings: Settings, item_id: str) -> dict | None:
    with client(settings) as es:
        es.indices.refresh(index=settings.feedback_alias)
        found = es.search(index=settings.feedback_alias, query={"ids": {"values": [item_id]}})["hits"]["hits"]
    return found[0]["_source"] if found else None


def item_of(settings: Settings, word: str) -> str | None:
    """The feedback item that the posts naming ``word`` joined, once one is indexed."""
    with client(settings) as es:
        es.indices.refresh(index=settings.posts_alias)
        hits = es.search(index=settings.posts_alias, query={"match": {"text": word}}, size=50)["hits"]["hits"]
    items = {h["_source"].get("item_id") for h in hits} - {None}
    return items.pop() if len(items) == 1 else None


def test_a_release_regresses_a_fix_holds_and_another_does_not(ns, tmp_path):
    settings = ns.replace(
        classifier="lexicon", deliver_allowed_hosts=["127.0.0.1"], webhook_secret=SECRET, fix_failed_reports=2
    )
    canyu = lambda *args: subprocess.run([sys.executable, "-m", "canyu_cli", *args], env=env_for(settings),  # noqa: E731
                                         capture_output=True, text=True, timeout=120)  # fmt: skip
    with webhook_receiver() as hook:
        SubscriptionStore(settings).put(Subscription(
            id="releases", name="release watch", match=SubscriptionMatch(alert_kinds=["regression", "fix_failed"]),
            channel=Channel(type="webhook", target=hook.url)))  # fmt: skip
        registry = releases(settings)
        registry.put(Release(product="hyperos", version="1.0.7.0", date=D))
        with running("worker", settings, tmp_path), running("sink", settings, tmp_path), \
                running("deliver", settings, tmp_path):  # fmt: skip
            before = [post(i, BATTERY[i], D - (4 - i) * DAY + timedelta(hours=10)) for i in range(4)]
            after = [post(10 + i, WIFI[i], D + timedelta(hours=9 + 6 * i)) for i in range(4)]
            after += [post(20 + i, BATTERY[i] + " today", D + i * DAY + timedelta(hours=11)) for i in range(2)]
            after += [post(30 + i, BLUETOOTH[i].format(v="1.0.7.0"), D + DAY + timedelta(hours=i)) for i in range(2)]
            publish_all(settings, before)
            wait_for(lambda: len(read_topic(settings, settings.topic(topics.POSTS_ENRICHED))) == len(before),
                     what="the week before processed")  # fmt: skip
            publish_all(settings, after)

            wait_for(lambda: notified(hook, "regression"), timeout=120, what="the regression alert at the webhook")
            (regression,) = alerts_of(settings, "regression")
            assert regression.dimensions["release"] == "hyperos|1.0.7.0" and regression.observed >= 3
            headers, body = next((h, b) for h, b in hook.requests if b"regression" in b)
            assert signed(headers, body)

            wifi = wait_for(lambda: item_of(settings, "wifi"), what="the WiFi item indexed")
            bluetooth = wait_for(lambda: item_of(settings, "bluetooth"), what="the Bluetooth item indexed")
            assert wifi != bluetooth
            report = wait_for(lambda: _report(canyu), what="the release's impact indexed")
            assert [i["item_id"] for i in report["regressions"]] == [wifi]
            assert report["regressions"][0]["version_share"] == 1.0

            for item_id in (wifi, bluetooth):
                fixed = canyu("item", "fix", item_id, "--in", "1.0.8.0", "--note", "driver patched")
                assert fixed.returncode == 0, fixed.stderr
            registry.put(Release(product="hyperos", version="1.0.8.0", date=D + 3 * DAY))
            # People on 1.0.8.0 report the Bluetooth bug again; nobody reports WiFi; the week goes on.
            again = [post(40 + i, BLUETOOTH[i].format(v="1.0.8.0") + ", still", D + 3 * DAY + timedelta(hours=12 + i),
                          author=f"bt{i}") for i in range(2)]  # fmt: skip
            later = [post(50 + i, f"{BATTERY[i % 4]} on day {i}", D + (4 + i) * DAY + timedelta(hours=11))
                     for i in range(5)]  # fmt: skip
            publish_all(settings, again + later)

            wait_for(lambda: notified(hook, "fix_failed"), timeout=120, what="the fix_failed alert at the webhook")
            (failed,) = notified(hook, "fix_failed")
            assert (
                failed["alert"]["dimensions"]["item"] == bluetooth
                and failed["alert"]["dimensions"]["version"] == "1.0.8.0"
            )
            wait_for(lambda: (item_doc(settings, wifi) or {}).get("status") == "verified", timeout=120,
                     what="the WiFi fix verified")  # fmt: skip
            wait_for(lambda: (item_doc(settings, bluetooth) or {}).get("status") == "fix_failed", timeout=60,
                     what="the Bluetooth fix marked as not held")  # fmt: skip
    verified = item_doc(settings, wifi)
    assert [(c["action"], c["by"]) for c in verified["history"]] == [("fix", "cli"), ("verified", "canyu")]
    assert verified["fixed_in"] == "1.0.8.0"
    assert len(alerts_of(settings, "fix_failed")) == 1


def _report(canyu) -> dict | None:
    shown = canyu("release", "report", "hyperos", "1.0.7.0", "--json")
    if shown.returncode != 0:
        return None
    report = json.loads(shown.stdout)
    return report if report["regressions"] else None
