"""``canyu release`` and ``canyu item``: what they refuse, and what they write, against a fake Kafka and index.

The registries' topics are one list of records in memory (``kafka``); the feedback-items
index is a dict (``items``). Every refusal must leave both as they were.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from canyu.schema import ItemChange, ItemLifecycle, Release
from canyu.settings import get_settings
from canyu_cli.cli import app
from canyu_runtime import items, registry
from queries.export import open_writer
from queries.reporters import COLUMNS, reporter, reporters_query

SHIPPED = datetime(2026, 11, 20, tzinfo=timezone.utc)


class FakeKafka:
    """Every topic's records, in the order they were sent."""

    def __init__(self):
        self.records: list[tuple[str, bytes, bytes | None]] = []

    def send(self, topic, key, value):
        self.records.append((topic, key, value))
        return SimpleNamespace(get=lambda timeout: None)

    def close(self):
        pass

    def read_all(self, settings, topic):
        return [SimpleNamespace(key=k, value=v) for t, k, v in self.records if t == topic]

    def on(self, topic: str) -> list[tuple[bytes, bytes | None]]:
        return [(k, v) for t, k, v in self.records if t == get_settings().topic(topic)]


class FakeElasticsearch:
    def __init__(self, feedback_items: dict[str, dict]):
        self.feedback_items = feedback_items

    def search(self, index, query, size):
        assert index == get_settings().feedback_alias
        (item_id,) = query["ids"]["values"]
        found = self.feedback_items.get(item_id)
        return {"hits": {"hits": [{"_id": item_id, "_source": found}] if found else []}}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def kafka(monkeypatch) -> FakeKafka:
    fake = FakeKafka()
    monkeypatch.setattr(registry, "make_producer", lambda settings: fake)
    monkeypatch.setattr(registry, "read_all", fake.read_all)
    return fake


@pytest.fixture
def index(monkeypatch) -> dict[str, dict]:
    feedback_items = {
        "fb-open": {"id": "fb-open", "status": "open"},
        "fb-closed": {"id": "fb-closed", "status": "closed"},
    }
    es = FakeElasticsearch(feedback_items)
    monkeypatch.setattr(items, "client", lambda settings: es)
    monkeypatch.setattr("canyu_runtime.elastic.client", lambda settings: es)
    return feedback_items


def canyu(*args: str):
    return CliRunner().invoke(app, list(args))


def releases_on(kafka: FakeKafka) -> dict[str, Release]:
    return registry.fold(kafka.on("releases"), Release)


# canyu release


def test_a_release_is_registered_with_a_date_alone_at_midnight_utc(kafka):
    added = canyu("release", "add", "hyperos", "V1.0.7.0", "--date", "2026-11-20", "--notes", "https://example.com/n")
    assert added.exit_code == 0, added.output
    assert "hyperos|1.0.7.0: registered" in added.output
    assert "warning" not in added.output
    (release,) = releases_on(kafka).values()
    assert (release.product, release.version, release.date, release.notes_url, release.source) == (
        "hyperos", "1.0.7.0", SHIPPED, "https://example.com/n", "registered"
    )  # fmt: skip


def test_a_datetime_keeps_its_zone_and_one_without_a_zone_is_utc(kafka):
    assert canyu("release", "add", "xiaomi-14", "1.0.7", "--date", "2026-11-20T09:00+08:00").exit_code == 0
    assert canyu("release", "add", "xiaomi-14", "1.0.8", "--date", "2026-11-21T09:00").exit_code == 0
    found = releases_on(kafka)
    assert found["xiaomi-14|1.0.7"].date == datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
    assert found["xiaomi-14|1.0.8"].date == datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["Xiaomi 14", "1.0.7", "--date", "2026-11-20"], "is not a product id"),
        (["hyperos", "latest", "--date", "2026-11-20"], "'latest' is not a version"),
        (["hyperos", "1.0.7", "--date", "7d"], "use an ISO date like 2026-11-20"),
        (["hyperos", "1.0.7", "--date", "last tuesday"], "use an ISO date like 2026-11-20"),
        (["hyperos", "1.0.7", "--date", "1999-12-31"], "the earliest date canyu takes"),
        (["hyperos", "1.0.7", "--date", "2026-11-20", "--notes", "javascript:alert(1)"], "is not an http(s) URL"),
        (["hyperos", "1.0.7", "--date", "2026-11-20", "--notes", "https://"], "has no host"),
    ],
)  # fmt: skip
def test_a_bad_release_is_refused_with_the_reason_and_nothing_is_written(kafka, args, why):
    refused = canyu("release", "add", *args)
    assert refused.exit_code == 1
    assert why in refused.output
    assert kafka.records == []


def test_a_product_that_is_neither_in_the_catalogue_nor_a_line_is_warned_of_but_registered(kafka):
    added = canyu("release", "add", "pixel-9", "2.0.12", "--date", "2026-11-20")
    assert added.exit_code == 0
    assert "warning: 'pixel-9' is neither a product of the catalogue" in added.output
    assert list(releases_on(kafka)) == ["pixel-9|2.0.12"]


def test_the_same_release_point_spelled_otherwise_updates_the_record_it_has(kafka):
    seen = Release(product="hyperos", version="1.0.7.0", date=SHIPPED, source="seen", authors=6)
    registry.releases(get_settings()).put(seen)
    added = canyu("release", "add", "hyperos", "1.0.7", "--date", "2026-11-19")
    assert added.exit_code == 0 and "hyperos|1.0.7.0: updated" in added.output
    ((key, release),) = releases_on(kafka).items()
    assert key == "hyperos|1.0.7.0" and release.source == "registered"
    assert release.date == datetime(2026, 11, 19, tzinfo=timezone.utc)


def test_list_shows_registered_and_seen_releases_oldest_first(kafka):
    releases = registry.releases(get_settings())
    later = SHIPPED.replace(day=27)
    releases.put(Release(product="hyperos", version="1.0.8.0", date=later, notes_url="https://n.example"))
    releases.put(Release(product="hyperos", version="1.0.7.0", date=SHIPPED, source="seen", authors=6))
    listed = canyu("release", "list")
    assert listed.exit_code == 0
    first, second = listed.output.splitlines()
    assert first.startswith("2026-11-20 00:00Z") and "1.0.7.0" in first and "seen" in first and "6 authors" in first
    assert "1.0.8.0" in second and "registered" in second and "https://n.example" in second
    as_json = json.loads(canyu("release", "list", "--json").output)
    assert [(r["version"], r["source"], r["authors"]) for r in as_json] == [
        ("1.0.7.0", "seen", 6),
        ("1.0.8.0", "registered", None),
    ]


def test_list_says_so_when_there_are_none(kafka):
    assert canyu("release", "list").output.strip() == "no releases"


def test_rm_removes_the_release_by_its_release_point_and_refuses_an_unknown_one(kafka):
    registry.releases(get_settings()).put(Release(product="hyperos", version="1.0.7.0", date=SHIPPED))
    unknown = canyu("release", "rm", "hyperos", "1.0.6")
    assert unknown.exit_code == 1 and "no release hyperos 1.0.6" in unknown.output
    assert canyu("release", "rm", "miui", "1.0.7").exit_code == 1
    assert len(kafka.records) == 1
    removed = canyu("release", "rm", "hyperos", "v1.0.7")
    assert removed.exit_code == 0 and "hyperos|1.0.7.0: removed" in removed.output
    assert releases_on(kafka) == {}


# canyu item


def lifecycle_of(kafka: FakeKafka, item_id: str) -> ItemLifecycle | None:
    return registry.fold(kafka.on("items.lifecycle"), ItemLifecycle).get(item_id)


def test_a_change_is_checked_written_and_printed_with_the_history(kafka, index):
    acked = canyu("item", "ack", "fb-open", "--note", "looking")
    assert acked.exit_code == 0, acked.output
    fixed = canyu("item", "fix", "fb-open", "--in", "v1.0.8.0", "--note", "modem firmware")
    assert fixed.exit_code == 0, fixed.output
    lines = fixed.output.splitlines()
    assert lines[0] == "fb-open: fixed in 1.0.8.0"
    assert "ack" in lines[1] and "by cli" in lines[1] and "looking" in lines[1]
    assert "fix 1.0.8.0" in lines[2] and "modem firmware" in lines[2]
    now = lifecycle_of(kafka, "fb-open")
    assert (now.state, now.fixed_in, [c.action for c in now.history]) == ("fixed", "1.0.8.0", ["ack", "fix"])
    assert {c.by for c in now.history} == {"cli"}


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["ack", "fb-nope"], "no feedback item 'fb-nope'"),
        (["ack", "fb-closed"], "feedback item 'fb-closed' is closed"),
        (["fix", "fb-open", "--in", "1.0.8-beta"], "'1.0.8-beta' is not a version"),
        (["reopen", "fb-open"], "item fb-open is open: 'reopen' applies to an item that is acknowledged or fixed"),
        (["ack", "fb-open", "--in", "1.0.8"], "--in names the version of a fix; 'ack' takes none"),
        (["ack", "fb-open", "--note", "x" * 2001], "note: String should have at most 2000 characters"),
    ],
)  # fmt: skip
def test_a_refused_change_says_why_and_writes_nothing(kafka, index, args, why):
    refused = canyu("item", *args)
    assert refused.exit_code == 1
    assert why in " ".join(refused.output.split())
    assert kafka.records == []


def test_change_item_applies_the_change_to_the_lifecycle_on_the_topic(kafka, index):
    settings = get_settings()
    items.change_item(settings, "fb-open", ItemChange(action="wontfix", by="dashboard"))
    with pytest.raises(ValueError, match="is wontfix: 'ack' applies to an item that is open"):
        items.change_item(settings, "fb-open", ItemChange(action="ack"))
    reopened = items.change_item(settings, "fb-open", ItemChange(action="reopen"))
    assert reopened.state == "open" and [c.action for c in reopened.history] == ["wontfix", "reopen"]
    assert lifecycle_of(kafka, "fb-open") == reopened
    with pytest.raises(LookupError):
        items.change_item(settings, "fb-nope", ItemChange(action="ack"))


# canyu item reporters


def test_reporters_of_an_unknown_item_is_a_clear_error(index):
    refused = canyu("item", "reporters", "fb-nope")
    assert refused.exit_code == 1 and "no feedback item 'fb-nope'" in refused.output


def test_reporters_refuses_a_format_it_cannot_write(index):
    refused = canyu("item", "reporters", "fb-open", "--format", "parquet")
    assert refused.exit_code == 1 and "choose from csv, jsonl" in refused.output


POST = {
    "id": "forum:7", "source": "forum", "url": "https://forum.example/t/7", "language": "zh",
    "created_at": "2026-11-21T10:00:00+08:00", "author": {"id": "u7", "name": "=HYPERLINK(\"x\")"},
    "versions": [{"line": "hyperos", "version": "1.0.7.0", "tag": "hyperos 1.0.7.0"},
                 {"line": "app", "version": "3.2.1", "tag": "app 3.2.1"}],
    "text": "升级到 1.0.7.0 后\n信号  断流 " + "很严重" * 100, "sentiment": {"label": "negative"},
}  # fmt: skip


def test_a_reporter_row_names_the_post_its_author_and_versions_with_a_short_text():
    row = reporter(POST)
    assert list(row) == COLUMNS
    assert row["post_id"] == "forum:7" and row["url"] == "https://forum.example/t/7"
    assert (row["author_id"], row["language"]) == ("u7", "zh")
    assert row["versions"] == ["hyperos 1.0.7.0", "app 3.2.1"]
    assert row["text"].startswith("升级到 1.0.7.0 后 信号 断流 很严重") and row["text"].endswith("…")
    assert len(row["text"]) == 200


def test_reporters_csv_has_their_columns_and_defuses_formulas():
    out = io.StringIO()
    writer, _ = open_writer("csv", None, out, COLUMNS)
    writer.write([reporter(POST)])
    header, line = out.getvalue().splitlines()[:2]
    assert header == ",".join(COLUMNS)
    assert "'=HYPERLINK" in line and "hyperos 1.0.7.0;app 3.2.1" in line


def test_reporters_are_the_posts_whose_item_is_the_one_asked_for():
    assert {"terms": {"item_id": ["fb-open"]}} in reporters_query("fb-open")["bool"]["filter"]
