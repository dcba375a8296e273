"""The local stack's servers, started and stopped by PID: what needs no Kafka or Elasticsearch to show."""

from __future__ import annotations

import os
import subprocess

import pytest

from canyu.settings import Settings
from canyu_cli.stack.artifacts import load_pins
from canyu_cli.stack.servers import Kafka, StackError, _start_time
from canyu_runtime.private import write_private


def server_running(tmp_path, command: list[str]) -> tuple[Kafka, subprocess.Popen]:
    """A Kafka server whose recorded process is ``command``, in its own process group as ``up`` starts it."""
    repository, pins = load_pins()
    server = Kafka(Settings(home=tmp_path), pins["kafka"], repository)
    proc = subprocess.Popen(command, start_new_session=True)
    write_private(server.pid_file, f"{proc.pid} {_start_time(proc.pid)}\n".encode())
    return server, proc


def test_down_stops_the_process_group_and_forgets_the_pid(tmp_path):
    server, proc = server_running(tmp_path, ["sleep", "60"])
    assert server.pid() == proc.pid
    assert server.down(timeout_s=30) is True
    assert proc.poll() is not None and not server.pid_file.exists()
    assert server.down() is False  # nothing left to stop


def test_down_kills_a_server_that_ignores_the_terminate_signal(tmp_path):
    server, proc = server_running(tmp_path, ["sh", "-c", "trap '' TERM; sleep 60 & wait"])  # sleep ignores it too
    assert server.down(timeout_s=0.5) is True
    with pytest.raises(ProcessLookupError):  # the whole group is gone: SIGKILL, once the wait for SIGTERM was over
        os.killpg(proc.pid, 0)


def test_up_waits_for_health_and_says_so_when_the_server_exits_during_start_up(tmp_path, monkeypatch):
    server, proc = server_running(tmp_path, ["sleep", "0.5"])
    checks = []

    def never_healthy(self) -> None:
        checks.append(proc.poll())  # polling reaps the child once it is gone, as init would a server not ours

    monkeypatch.setattr(Kafka, "check_health", never_healthy)
    server.start_timeout_s = 30
    with pytest.raises(StackError, match="kafka exited during start-up"):
        server._wait_healthy()
    assert None in checks  # it was asked while the process ran


def test_up_gives_up_on_a_server_that_never_becomes_healthy(tmp_path, monkeypatch):
    server, proc = server_running(tmp_path, ["sleep", "60"])
    monkeypatch.setattr(Kafka, "check_health", lambda self: None)
    server.start_timeout_s = 1
    try:
        with pytest.raises(StackError, match="kafka did not become healthy within 1s; see .*server.out"):
            server._wait_healthy()
    finally:
        server.down()
