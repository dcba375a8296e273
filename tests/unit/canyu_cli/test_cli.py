import os
import stat

import pytest
import typer
from typer.testing import CliRunner

from canyu.settings import Settings, get_settings
from canyu_cli.cli import _unreachable_service, app
from canyu_cli.main_job import _start


def all_commands(group, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every command path of the CLI, so a new subcommand is covered without editing this test."""
    found = [list(prefix)]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group of subcommands
            found += all_commands(command, (*prefix, name))
        else:
            found.append([*prefix, name])
    return found


COMMANDS = all_commands(typer.main.get_command(app))


def test_the_walk_finds_the_commands_users_rely_on():
    for command in (["stack", "up"], ["replay"], ["worker"], ["sink"], ["search"], ["up"], ["subscribe", "add"],
                    ["models", "build"]):  # fmt: skip
        assert command in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "canyu")
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_bad_since_is_a_clear_error_not_a_traceback():
    result = CliRunner().invoke(app, ["search", "battery", "--since", "last tuesday"])
    assert result.exit_code == 1
    assert "use e.g. 7d" in result.output


@pytest.mark.parametrize("command", ["search", "export"])
def test_a_version_that_does_not_parse_is_a_clear_error_not_a_traceback(command):
    result = CliRunner().invoke(app, [command, "*", "--version", "hyperos 1.0.x"])
    assert result.exit_code == 1
    assert "--version 'hyperos 1.0.x'" in result.output and "is not a version" in result.output


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["replay", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1
    assert "is not a file" in result.output


@pytest.mark.parametrize(
    ("option", "target", "why"),
    [("--webhook", "http://hooks.example.com:99999/x", "port outside 1-65535"),
     ("--email", "team@example.com\r\nBcc: all@example.com", "control character"),
     ("--kafka", "team/topic", "not a Kafka topic name")],
)  # fmt: skip
def test_subscribe_refuses_a_bad_target_with_a_clear_error(option, target, why):
    result = CliRunner().invoke(app, ["subscribe", "add", "--name", "battery", option, target])
    assert result.exit_code == 1
    assert why in result.output


@pytest.fixture
def fresh_settings(monkeypatch, tmp_path):
    """``get_settings()`` read again from this test's environment, with CANYU_HOME in tmp_path."""
    monkeypatch.setenv("CANYU_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_dashboard_prints_where_its_tokens_are_never_a_token(fresh_settings, monkeypatch, tmp_path):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    result = CliRunner().invoke(app, ["dashboard"])
    assert result.exit_code == 0, result.output
    secrets = tmp_path / "home" / "secrets"
    tokens = {path.read_text().strip() for path in secrets.iterdir()}
    assert len(tokens) == 2 and not any(token in result.output for token in tokens)
    assert f"?token=$(cat {secrets / 'dashboard_token'})" in result.output
    assert f"the token is in {secrets / 'dashboard_admin_token'}" in result.output


def test_an_elasticsearch_password_is_never_printed(fresh_settings, monkeypatch):
    from elasticsearch import ConnectionError as EsConnectionError

    monkeypatch.setenv("CANYU_ES_URL", "http://elastic:s3cret@127.0.0.1:9")
    said = _unreachable_service(EsConnectionError("refused"))
    assert "http://127.0.0.1:9" in said and "s3cret" not in said


def test_the_logs_of_canyu_up_are_0600_in_a_0700_folder(tmp_path):
    old = os.umask(0o022)  # the usual umask, which would make them 0644 in 0755
    try:
        proc, log = _start("--help", Settings(home=tmp_path / "home"))
        proc.wait(60)
    finally:
        os.umask(old)
    assert b"Usage" in log.read_bytes()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_models_build_without_the_dev_sets_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["models", "build", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "no dev sets" in result.output and "--data" in result.output
    result = CliRunner().invoke(app, ["models", "build", "--data", str(tmp_path), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "no labelled sets" in result.output or "needs" in result.output  # an empty folder; or no torch here
    assert not (tmp_path / "m" / "model.int8.onnx").exists()


def test_models_build_puts_the_checkouts_training_on_the_path_only_when_it_is_missing(tmp_path, monkeypatch):
    from canyu_cli.commands import model_build

    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "__init__.py").write_text("")
    monkeypatch.setattr(model_build, "CHECKOUT", tmp_path)
    monkeypatch.setattr(model_build.sys, "path", ["elsewhere"])
    found = {"training": object()}  # what importlib.util.find_spec answers per module name
    monkeypatch.setattr(model_build.importlib.util, "find_spec", lambda name: found.get(name))
    model_build._with_training()
    assert model_build.sys.path == ["elsewhere"]  # importable already: the path stays as it is
    found.clear()
    model_build._with_training()
    assert model_build.sys.path == ["elsewhere", str(tmp_path)]
    monkeypatch.setattr(model_build.sys, "path", ["elsewhere"])
    monkeypatch.setattr(model_build, "CHECKOUT", tmp_path / "installed")  # not a checkout: no training there
    model_build._with_training()
    assert model_build.sys.path == ["elsewhere"]
