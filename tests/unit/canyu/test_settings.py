import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from canyu.settings import FLAT_NAMES, SECTIONS, Settings

# Values no default has, for the settings whose values are constrained beyond their type.
CONSTRAINED = {"namespace": "t9.", "hf_device": "cuda", "worker_store": "memory://"}


def example(name: str):
    """A valid value for the flat setting ``name`` that is not its default."""
    if name in CONSTRAINED:
        return CONSTRAINED[name]
    section, field = FLAT_NAMES[name]
    default = (SECTIONS[section] if section else Settings).model_fields[field].get_default(call_default_factory=True)
    if isinstance(default, bool):
        return not default
    if isinstance(default, int | float):
        return default + 1 if isinstance(default, int) else default * 1.5
    if isinstance(default, datetime):
        return default + timedelta(days=1)
    if isinstance(default, list):
        return ["a.internal", "b.internal"]
    if isinstance(default, Path) or name == "products_file":
        return Path("/srv/canyu") / name
    return f"{default or ''}{name}-0123456789abcdef"  # long enough for the tokens


def as_toml(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        value = str(value)
    return json.dumps(value)  # numbers, strings and lists of strings are written alike


def as_variable(value) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value) if isinstance(value, list) else str(value)


@pytest.mark.parametrize("name", FLAT_NAMES)
def test_every_flat_name_is_read_from_the_environment_the_file_and_keywords(name, tmp_path, monkeypatch):
    value = example(name)
    section, field = FLAT_NAMES[name]

    def read(settings: Settings):
        return getattr(getattr(settings, section) if section else settings, field)

    assert read(Settings(**{name: value})) == value
    config = tmp_path / "canyu.toml"
    config.write_text(f"{name} = {as_toml(value)}\n")
    monkeypatch.setenv("CANYU_CONFIG", str(config))
    assert read(Settings()) == value
    monkeypatch.delenv("CANYU_CONFIG")
    monkeypatch.setenv(f"CANYU_{name.upper()}", as_variable(value))
    assert read(Settings()) == value
    assert read(Settings().replace(**{name: Settings().flat()[name]})) == value
    assert Settings().flat()[name] == value


def test_every_field_of_every_section_has_exactly_one_flat_name():
    fields = [("", name) for name in Settings.model_fields if name not in SECTIONS]
    fields += [(section, name) for section, model in SECTIONS.items() for name in model.model_fields]
    assert sorted(FLAT_NAMES.values()) == sorted(fields)  # every field, and no name for a field that is gone
    assert len(set(FLAT_NAMES.values())) == len(FLAT_NAMES)


def test_environment_variables_use_the_canyu_prefix(monkeypatch):
    monkeypatch.setenv("CANYU_KAFKA_BOOTSTRAP", "kafka:29092")
    monkeypatch.setenv("CANYU_BATCH_SIZE", "8")
    settings = Settings()
    assert settings.kafka.bootstrap == "kafka:29092"
    assert settings.worker.batch_size == 8


def test_a_config_file_is_read_and_the_environment_wins(tmp_path: Path, monkeypatch):
    config = tmp_path / "canyu.toml"
    config.write_text('es_url = "http://search:9200"\nbatch_size = 16\n')
    monkeypatch.setenv("CANYU_CONFIG", str(config))
    monkeypatch.setenv("CANYU_BATCH_SIZE", "4")
    settings = Settings()
    assert settings.elasticsearch.url == "http://search:9200"
    assert settings.worker.batch_size == 4
    assert Settings(batch_size=2).worker.batch_size == 2  # and keywords win over both


def test_a_config_file_may_give_a_section_as_a_table(tmp_path: Path, monkeypatch):
    config = tmp_path / "canyu.toml"
    config.write_text('[worker]\nbatch_size = 16\nweb_port = 7000\n[classifier]\nbackend = "lexicon"\nthreads = 2\n')
    monkeypatch.setenv("CANYU_CONFIG", str(config))
    monkeypatch.setenv("CANYU_WORKER_WEB_PORT", "7001")
    settings = Settings()
    assert (settings.worker.batch_size, settings.worker.web_port) == (16, 7001)
    assert (settings.classifier.backend, settings.classifier.threads) == ("lexicon", 2)


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


def test_a_bad_value_is_refused_by_the_name_it_was_given(monkeypatch):
    monkeypatch.setenv("CANYU_WORKER_STALL_S", "-1")
    with pytest.raises(ValidationError, match=r"worker_stall_s\n  Input should be greater than 0"):
        Settings()
    monkeypatch.delenv("CANYU_WORKER_STALL_S")
    monkeypatch.setenv("CANYU_DELIVER_ALLOWED_HOSTS", "hooks.internal")
    with pytest.raises(SettingsError, match=r'CANYU_DELIVER_ALLOWED_HOSTS must be a JSON list, like \["a", "b"\]'):
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
    assert (changed.worker.batch_size, changed.delivery.allowed_hosts, changed.home) == (
        16,
        ["hooks.internal"],
        tmp_path,
    )
    assert (settings.worker.batch_size, settings.delivery.allowed_hosts) == (8, [])
    assert changed.worker.batch_wait_s == settings.worker.batch_wait_s  # the rest of the section stays
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


ROOT = Path(__file__).resolve().parents[3]


def test_the_readme_lists_each_section_with_its_flat_names():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\(top\)|`\w+`) \| (`.+`) \|$", readme, re.MULTILINE)
    listed = {section.strip("`").replace("(top)", ""): re.findall(r"`(\w+)`", names) for section, names in rows}
    by_section: dict[str, list[str]] = {}
    for name, (section, _) in FLAT_NAMES.items():
        by_section.setdefault(section, []).append(name)
    assert listed == by_section


def test_every_variable_and_production_setting_the_docs_and_compose_name_is_a_setting():
    texts = [ROOT / "README.md", ROOT / "docker-compose.yml", ROOT / "Dockerfile", *(ROOT / "docs").glob("*.md")]
    named = {v for path in texts for v in re.findall(r"\bCANYU_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8"))}
    assert named - {"CANYU_CONFIG", "CANYU_JAVA_HOME"} <= {f"CANYU_{name.upper()}" for name in FLAT_NAMES}
    production = (ROOT / "docs" / "production.md").read_text(encoding="utf-8").split("\n## ")[0]
    first_cells = re.findall(r"^\| ([^|]*`[^|]*) \|", production, re.MULTILINE)
    assert first_cells, "docs/production.md lost its table of settings"
    assert {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)} <= set(FLAT_NAMES)
