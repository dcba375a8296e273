import pytest
from typer.testing import CliRunner

from canyu.cli import app

COMMANDS = [[], ["stack"], ["stack", "up"], ["stack", "down"], ["stack", "status"], ["stack", "logs"], ["init"],
            ["replay"], ["worker"], ["sink"], ["health"], ["search"], ["up"]]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "canyu")
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_bad_since_is_a_clear_error_not_a_traceback():
    result = CliRunner().invoke(app, ["search", "battery", "--since", "last tuesday"])
    assert result.exit_code == 1
    assert "use e.g. 7d" in result.output


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["replay", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1
    assert "is not a file" in result.output
