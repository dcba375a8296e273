"""``canyu release`` and ``canyu item`` against the real Kafka and Elasticsearch, as a user runs them.

Feedback items and posts are indexed with the sink's own routes, as the sink would index them;
releases and lifecycles are read back from their compacted topics.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from canyu import topics
from canyu.schema import EnrichedPost, FeedbackItem, ItemLifecycle, Release, VersionMention
from canyu.settings import Settings
from canyu_runtime.elastic import client
from canyu_runtime.registry import fold
from sinks.elasticsearch import routes
from tests.integration.conftest import env_for, read_topic

SHIPPED = datetime(2026, 11, 20, tzinfo=timezone.utc)


def cli(ns: Settings):
    env = env_for(ns)
    return lambda *args: subprocess.run([sys.executable, "-m", "canyu_cli", *args], env=env, capture_output=True,
                                        text=True, timeout=120)  # fmt: skip


def index(ns: Settings, topic: str, docs: list) -> None:
    """Index ``docs`` as the sink indexes the records of ``topic``."""
    route = routes(ns)[ns.topic(topic)]
    with client(ns) as es:
        response = es.bulk(operations=[op for doc in docs for op in (route.action(doc), doc.model_dump(mode="json"))],
                           refresh="wait_for")  # fmt: skip
    assert not response["errors"], response


def on_topic(ns: Settings, topic: str, model):
    return fold([(r.key, r.value) for r in read_topic(ns, ns.topic(topic))], model)


def test_a_release_is_added_listed_corrected_and_removed(ns):
    canyu = cli(ns)
    added = canyu("release", "add", "hyperos", "1.0.7.0", "--date", "2026-11-20", "--notes", "https://example.com/rn")
    assert added.returncode == 0, added.stderr
    assert canyu("release", "add", "xiaomi-14", "v2.0.12", "--date", "2026-11-21T09:00+08:00").returncode == 0

    listed = canyu("release", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    shown = [(r["product"], r["version"], r["date"], r["source"], r["notes_url"]) for r in json.loads(listed.stdout)]
    assert shown == [
        ("hyperos", "1.0.7.0", "2026-11-20T00:00:00Z", "registered", "https://example.com/rn"),
        ("xiaomi-14", "2.0.12", "2026-11-21T01:00:00Z", "registered", None),
    ]  # fmt: skip

    corrected = canyu("release", "add", "hyperos", "1.0.7", "--date", "2026-11-19")
    assert corrected.returncode == 0 and "hyperos|1.0.7.0: updated" in corrected.stdout
    assert on_topic(ns, topics.RELEASES, Release)["hyperos|1.0.7.0"].date == SHIPPED - timedelta(days=1)

    removed = canyu("release", "rm", "hyperos", "1.0.7.0")
    assert removed.returncode == 0, removed.stderr
    assert list(on_topic(ns, topics.RELEASES, Release)) == ["xiaomi-14|2.0.12"]
    text = canyu("release", "list").stdout
    assert "xiaomi-14" in text and "hyperos" not in text
    missing = canyu("release", "rm", "hyperos", "1.0.7.0")
    assert missing.returncode == 1 and "no release hyperos 1.0.7.0" in missing.stderr


def test_a_bad_release_changes_nothing(ns):
    canyu = cli(ns)
    for args in (["hyperos", "soon", "--date", "2026-11-20"], ["hyperos", "1.0.7", "--date", "7d"],
                 ["Hyper OS", "1.0.7", "--date", "2026-11-20"]):  # fmt: skip
        refused = canyu("release", "add", *args)
        assert refused.returncode == 1 and "error:" in refused.stderr
    assert read_topic(ns, ns.topic(topics.RELEASES)) == []


def item(item_id: str, **changes) -> FeedbackItem:
    fields = dict(id=item_id, title="signal drops after the update", intent="bug_report", product="xiaomi-14",
                  count=3, unique_authors=3, first_seen=SHIPPED, last_seen=SHIPPED, updated_at=SHIPPED)  # fmt: skip
    return FeedbackItem(**{**fields, **changes})


def test_an_item_is_acknowledged_and_fixed_and_refusals_change_nothing(ns):
    index(ns, topics.FEEDBACK_ITEMS, [item("fb-signal"), item("fb-old", status="closed")])
    canyu = cli(ns)

    acked = canyu("item", "ack", "fb-signal", "--note", "modem team looks")
    assert acked.returncode == 0, acked.stderr
    assert acked.stdout.startswith("fb-signal: acknowledged")
    fixed = canyu("item", "fix", "fb-signal", "--in", "1.0.8.0")
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.startswith("fb-signal: fixed in 1.0.8.0")
    records = read_topic(ns, ns.topic(topics.ITEM_LIFECYCLE))

    refusals = {
        ("ack", "fb-nobody"): "no feedback item 'fb-nobody'",
        ("ack", "fb-old"): "is closed",
        ("fix", "fb-signal", "--in", "1.0.8.0-beta"): "is not a version",
        ("ack", "fb-signal"): "item fb-signal is fixed: 'ack' applies to an item that is open",
    }
    for args, why in refusals.items():
        refused = canyu("item", *args)
        assert refused.returncode == 1 and why in " ".join(refused.stderr.split()), (args, refused.stderr)
    assert len(read_topic(ns, ns.topic(topics.ITEM_LIFECYCLE))) == len(records)

    (lifecycle,) = on_topic(ns, topics.ITEM_LIFECYCLE, ItemLifecycle).values()
    assert (lifecycle.item_id, lifecycle.state, lifecycle.fixed_in) == ("fb-signal", "fixed", "1.0.8.0")
    assert [(c.action, c.version, c.note, c.by) for c in lifecycle.history] == [
        ("ack", None, "modem team looks", "cli"), ("fix", "1.0.8.0", None, "cli")
    ]  # fmt: skip


def post(n: int, item_id: str | None, author: str, **changes) -> EnrichedPost:
    fields = dict(
        id=f"forum:{n}", source="forum", url=f"https://forum.example/t/{n}", text=f"signal drops after 1.0.7.0 #{n}",
        language=("zh", "ko", "en")[n % 3], created_at=SHIPPED + timedelta(hours=n),
        fetched_at=SHIPPED + timedelta(hours=n),
        author={"id": author, "name": f"name of {author}"}, sentiment={"label": "negative", "scores": {}},
        intent={"label": "bug_report", "scores": {}}, classifier="lexicon-1", item_id=item_id,
        versions=[VersionMention(line="hyperos", version="1.0.7.0")],
    )  # fmt: skip
    return EnrichedPost(**{**fields, **changes})


def test_reporters_lists_exactly_the_posts_of_the_item_and_not_a_forgotten_author(ns, tmp_path):
    index(ns, topics.FEEDBACK_ITEMS, [item("fb-signal"), item("fb-camera")])
    posts = [post(1, "fb-signal", "u1"), post(2, "fb-signal", "u2", text="=cmd|' /C calc'!A0"),
             post(3, "fb-signal", "u3"), post(4, "fb-camera", "u1"), post(5, None, "u2")]  # fmt: skip
    index(ns, topics.POSTS_ENRICHED, posts)
    canyu = cli(ns)

    as_csv = canyu("item", "reporters", "fb-signal")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert sorted(r["post_id"] for r in rows) == ["forum:1", "forum:2", "forum:3"]
    by_id = {r["post_id"]: r for r in rows}
    assert by_id["forum:2"]["text"].startswith("'=cmd")  # a spreadsheet never runs it
    assert by_id["forum:3"]["url"] == "https://forum.example/t/3" and by_id["forum:3"]["author_name"] == "name of u3"
    assert by_id["forum:3"]["language"] == "zh" and by_id["forum:3"]["versions"] == "hyperos 1.0.7.0"
    assert "3 posts reported fb-signal" in as_csv.stderr

    forgot = canyu("index", "forget-author", "forum", "u2")
    assert forgot.returncode == 0, forgot.stderr
    out = tmp_path / "reporters.jsonl"
    as_jsonl = canyu("item", "reporters", "fb-signal", "-o", str(out))
    assert as_jsonl.returncode == 0, as_jsonl.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted((r["post_id"], r["author_id"]) for r in rows) == [("forum:1", "u1"), ("forum:3", "u3")]

    unknown = canyu("item", "reporters", "fb-nobody", "-o", str(tmp_path / "none.csv"))
    assert unknown.returncode == 1 and "no feedback item 'fb-nobody'" in unknown.stderr
    assert not list(tmp_path.glob("none.csv*"))
