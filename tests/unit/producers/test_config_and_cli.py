"""The sources file, `canyu produce` without Kafka (--file --dry-run, --status, bad config) and the metrics."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from typer.testing import CliRunner

from canyu.schema import Post
from canyu.settings import Settings, get_settings
from canyu_cli.cli import app
from producers.metrics import SourceStats, StatsCollector, saved_stats
from producers.sources import ConfigError, load_sources_file
from tests.unit.producers.helpers import FIXTURES, FakeProducer, Reply, make_source, run_once

YAML = """
sources:
  - {name: weibo-brand, kind: weibo, url: "https://api.weibo.com/2/statuses/home_timeline.json",
     token_env: TEST_WEIBO_TOKEN, count: 200, interval_s: 30}
  - {name: forum, kind: discourse, url: "https://forum.example.com", api_username: system}
  - {name: bbs, kind: rss, url: "https://bbs.example.cn/forum.php?mod=rss&fid=2", interval_s: 300}
  - {name: reddit-android, kind: reddit, url: "https://oauth.reddit.com/r/Android/new.json"}
  - {name: archive, kind: replay, path: PATH}
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CANYU_HOME", str(tmp_path))
    monkeypatch.setenv("CANYU_NAMESPACE", "t.")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def write(tmp_path, text: str, name: str = "sources.yaml"):
    path = tmp_path / name
    path.write_text(text.replace("PATH", str(tmp_path / "posts.jsonl")))
    (tmp_path / "posts.jsonl").touch()
    return path


def test_a_sources_file_declares_every_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_WEIBO_TOKEN", "t")
    configs = load_sources_file(write(tmp_path, YAML))
    assert [(c.name, c.kind) for c in configs] == [("weibo-brand", "weibo"), ("forum", "discourse"), ("bbs", "rss"),
                                                  ("reddit-android", "reddit"), ("archive", "replay")]  # fmt: skip
    assert configs[0].count == 200 and configs[0].interval_s == 30 and configs[0].token() == "t"


def test_a_toml_sources_file_works_too(tmp_path):
    path = write(tmp_path, '[[sources]]\nname = "bbs"\nkind = "rss"\nurl = "https://bbs.example.cn/rss"\n', "s.toml")
    assert load_sources_file(path)[0].name == "bbs"


@pytest.mark.parametrize(
    "change, message",
    [
        (("count: 200", "count: 500"), "sources[0] (weibo-brand).count: Input should be less than or equal to 200"),
        (("interval_s: 30", "intervall_s: 30"), "sources[0] (weibo-brand).intervall_s: Extra inputs are not permitted"),
        (("kind: reddit", "kind: twitter"), "sources[3] (reddit-android): Input tag 'twitter' found using 'kind'"),
        (("name: forum", "name: archive"), "source names must be unique; repeated: archive"),
        (("name: bbs", "name: Big BBS"), "sources[2] (Big BBS).name: String should match pattern"),
        ((', url: "https://forum.example.com"', ""), "sources[1] (forum): Value error, url is required to poll"),
        (('url: "https://oauth.reddit.com/r/Android/new.json"', "url: not-a-url"), "sources[3] (reddit-android).url"),
    ],
)
def test_a_bad_sources_file_names_the_source_and_the_field(tmp_path, monkeypatch, change, message):
    monkeypatch.setenv("TEST_WEIBO_TOKEN", "t")
    with pytest.raises(ConfigError) as raised:
        load_sources_file(write(tmp_path, YAML.replace(*change)))
    assert message in str(raised.value)


def test_an_unset_token_variable_is_named_at_start(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_WEIBO_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"sources\[0\] \(weibo-brand\)\.token_env: .*TEST_WEIBO_TOKEN is not set"):
        load_sources_file(write(tmp_path, YAML))


def test_canyu_produce_with_a_bad_file_exits_1_naming_the_field(tmp_path, monkeypatch, home):
    monkeypatch.setenv("TEST_WEIBO_TOKEN", "t")
    result = CliRunner().invoke(
        app, ["produce", "--config", str(write(tmp_path, YAML.replace("count: 200", "count: 0")))]
    )
    assert result.exit_code == 1
    assert "sources[0] (weibo-brand).count: Input should be greater than or equal to 1" in result.output


def test_one_source_options_are_checked_like_the_file(home):
    result = CliRunner().invoke(app, ["produce", "reddit", "--url", "https://r.example/new.json", "--set", "limit=500"])
    assert result.exit_code == 1 and "limit: Input should be less than or equal to 100" in result.output
    result = CliRunner().invoke(app, ["produce", "weibo"])
    assert result.exit_code == 1 and "url is required to poll" in result.output


@pytest.mark.parametrize(
    "kind, name, count",
    [("weibo", "weibo/page1.json", 4), ("discourse", "discourse/topic-7.json", 2), ("rss", "rss/discuz-gb2312.xml", 2),
     ("reddit", "reddit/new-page2.json", 2)],
)  # fmt: skip
def test_dry_run_prints_a_saved_response_as_jsonl_posts(kind, name, count, home):
    result = CliRunner().invoke(app, ["produce", kind, "--file", str(FIXTURES / name), "--dry-run"])
    assert result.exit_code == 0, result.output
    posts = [Post.model_validate_json(line) for line in result.stdout.splitlines()]
    assert len(posts) == count and all(p.source == kind for p in posts)
    assert set(json.loads(result.stdout.splitlines()[0])) == set(Post.model_fields)  # the schema's own field names


def test_dry_run_decodes_a_gb2312_feed_and_reports_skipped_records(home):
    result = CliRunner().invoke(app, ["produce", "rss", "--file", str(FIXTURES / "rss/discuz-gb2312.xml"), "--dry-run"])
    assert "升级后耗电快" in result.stdout
    assert "skipped a record: date '昨天 下午' is neither RFC 822 nor ISO 8601" in result.stderr


def test_dry_run_of_a_file_that_is_not_the_format_is_a_clear_error(home, tmp_path):
    (tmp_path / "page.json").write_text("<html>")
    result = CliRunner().invoke(app, ["produce", "weibo", "--file", str(tmp_path / "page.json"), "--dry-run"])
    assert result.exit_code == 1 and "invalid JSON" in result.output
    result = CliRunner().invoke(app, ["produce", "weibo", "--dry-run"])
    assert result.exit_code == 1 and "--dry-run goes with --file" in result.output


def test_status_shows_each_sources_saved_counts(home):
    settings = Settings(home=home, namespace="t.")
    SourceStats("forum", "discourse", fetched=9, published=7, duplicates=1, failed=1, last_success=1795773600).save(
        settings
    )
    result = CliRunner().invoke(app, ["produce", "--status"])
    assert result.exit_code == 0
    assert (
        "forum: fetched 9, published 7, duplicates 1, failed 1, poll errors 0, last success 2026-11-27 10:00:00Z"
        in (result.output)
    )
    assert [s.source for s in saved_stats(settings)] == ["forum"]
    assert saved_stats(Settings(home=home, namespace="other.")) == []


def test_prometheus_metrics_per_source():
    stats = [SourceStats("bbs", "rss", fetched=3, published=2, failed=1, last_success=1795773600.0)]
    registry = CollectorRegistry()
    registry.register(StatsCollector(stats))
    stats[0].published += 1  # read live at each scrape
    text = generate_latest(registry).decode()
    assert 'canyu_producer_published_total{source="bbs"} 3.0' in text
    assert 'canyu_producer_failed_total{source="bbs"} 1.0' in text
    assert 'canyu_producer_duplicates_total{source="bbs"} 0.0' in text
    assert 'canyu_producer_last_success_timestamp_seconds{source="bbs"} 1.7957736e+09' in text


def test_every_produce_command_has_help():
    for command in [["produce"], *[["produce", k] for k in ("weibo", "discourse", "rss", "reddit", "replay")]]:
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_one_source_from_the_command_line_runs_with_its_options(home, monkeypatch):
    from canyu_cli.commands import produce

    runs = []
    monkeypatch.setattr(produce, "_run", lambda configs, once, port: runs.append((configs, once, port)))
    result = CliRunner().invoke(app, ["produce", "discourse", "--url", "https://forum.example.com", "--name", "forum",
                                      "--interval", "30", "--set", "api_username=system", "--once"])  # fmt: skip
    assert result.exit_code == 0, result.output
    ((config,), once, port) = runs[0]
    assert (config.kind, config.name, config.interval_s, config.api_username) == ("discourse", "forum", 30, "system")
    assert once and port is None


def test_dry_run_prints_exactly_what_a_poll_publishes_a_reposted_status_once(home, settings, serve, tmp_path):
    """A home timeline lists a status, and again inside another's retweeted_status: one post, printed once."""
    page = json.loads((FIXTURES / "weibo/page1.json").read_text())
    repost = page["statuses"][0]
    page["statuses"].insert(1, repost["retweeted_status"])  # the original, on the timeline too
    path = tmp_path / "home_timeline.json"
    path.write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["produce", "weibo", "--file", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    printed = [Post.model_validate_json(line).id for line in result.stdout.splitlines()]

    server = serve(lambda request: Reply(200, json.dumps({"statuses": [] if request.params.get("max_id") else
                                                          page["statuses"]}).encode()))  # fmt: skip
    producer = FakeProducer()
    assert run_once(make_source("weibo", server.url), settings, producer)[0]
    assert printed == [post.id for post in producer.posts()]
    assert printed.count(f"weibo:{repost['retweeted_status']['idstr']}") == 1
    assert "1 repeated" in result.stderr
