from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from canyu.settings import Settings


def test_environment_variables_use_the_canyu_prefix(monkeypatch):
    monkeypatch.setenv("CANYU_KAFKA_BOOTSTRAP", "kafka:29092")
    monkeypatch.setenv("CANYU_BATCH_SIZE", "8")
    settings = Settings()
    assert settings.kafka_bootstrap == "kafka:29092"
    assert settings.batch_size == 8


def test_a_config_file_is_read_and_the_environment_wins(tmp_path: Path, monkeypatch):
    config = tmp_path / "canyu.toml"
    config.write_text('es_url = "http://search:9200"\nbatch_size = 16\n')
    monkeypatch.setenv("CANYU_CONFIG", str(config))
    monkeypatch.setenv("CANYU_BATCH_SIZE", "4")
    settings = Settings()
    assert settings.es_url == "http://search:9200"
    assert settings.batch_size == 4


def test_a_missing_config_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CANYU_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        Settings()


def test_a_misspelt_setting_in_the_file_is_an_error(tmp_path, monkeypatch):
    config = tmp_path / "canyu.toml"
    config.write_text("batch_sise = 16\n")
    monkeypatch.setenv("CANYU_CONFIG", str(config))
    with pytest.raises(ValidationError, match="batch_sise"):
        Settings()


def test_the_namespace_prefixes_topics_groups_and_the_alias():
    settings = Settings(namespace="t1.")
    assert settings.topic("posts.raw") == "t1.posts.raw"
    assert {"t1.posts.raw", "t1.posts.enriched", "t1.dead-letters", "t1.alerts"} <= set(settings.all_topics)
    assert all(t.startswith("t1.") for t in settings.all_topics)
    assert settings.posts_alias == "t1.posts"
    assert settings.sink_group.startswith("t1.")


def test_replace_changes_the_named_settings_checks_them_and_leaves_the_original_alone(tmp_path):
    settings = Settings(home=tmp_path, batch_size=8)
    changed = settings.replace(batch_size=16, deliver_allowed_hosts=["hooks.internal"])
    assert (changed.batch_size, changed.deliver_allowed_hosts, changed.home) == (16, ["hooks.internal"], tmp_path)
    assert (settings.batch_size, settings.deliver_allowed_hosts) == (8, [])
    with pytest.raises(ValidationError, match="batch_size"):
        settings.replace(batch_size=0)
    with pytest.raises(ValidationError, match="batch_sise"):
        settings.replace(batch_sise=16)


def test_the_environment_of_some_settings_gives_another_process_the_same_settings(tmp_path, monkeypatch):
    settings = Settings(
        home=tmp_path,
        namespace="t1.",
        batch_size=8,
        classifier_process=False,
        deliver_allowed_hosts=["a.internal", "b.internal"],
        date_floor=datetime(2010, 5, 1, tzinfo=timezone.utc),
        webhook_secret="a-secret",
    )
    assert settings.environment()["CANYU_BATCH_SIZE"] == "8"
    assert "CANYU_BATCH_WAIT_S" not in settings.environment()  # a default
    assert "CANYU_DASHBOARD_TOKEN" not in settings.environment(changed_only=False)  # None: no variable
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings
