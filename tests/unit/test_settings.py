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
