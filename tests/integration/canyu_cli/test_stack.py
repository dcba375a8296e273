"""``canyu stack``: a second, private stack on free ports, driven through the CLI as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import free_port


def processes_mentioning(text: str) -> set[int]:
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.add(int(cmdline.parent.name))
        except OSError:
            pass
    return found


def test_up_twice_starts_one_copy_status_reports_healthy_and_down_leaves_nothing(tmp_path):
    home = tmp_path / "home"
    env = {
        **os.environ,
        "CANYU_HOME": str(home),
        "CANYU_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "CANYU_KAFKA_CONTROLLER_PORT": str(free_port()),
        "CANYU_ES_URL": f"http://127.0.0.1:{free_port()}",
        "CANYU_ES_TRANSPORT_PORT": str(free_port()),
        "CANYU_ES_HEAP": "512m",
        "CANYU_KAFKA_JVM_OPTIONS": "-XX:TieredStopAtLevel=1 -Dcanyu.test=kafka",
        "CANYU_ES_JVM_OPTIONS": "-XX:TieredStopAtLevel=1 -Dcanyu.test=es",
    }
    canyu = lambda *args: subprocess.run([sys.executable, "-m", "canyu_cli", *args], env=env, capture_output=True,  # noqa: E731
                                         text=True, timeout=300)  # fmt: skip
    try:
        first = canyu("stack", "up")
        assert first.returncode == 0, first.stdout + first.stderr
        pids = {p.parent.name: p.read_text() for p in home.glob("stack/*/pid")}
        assert set(pids) == {"kafka", "elasticsearch"}
        running = processes_mentioning(str(home))
        assert running
        assert processes_mentioning("-Dcanyu.test=kafka") & running  # each JVM got its flags
        assert processes_mentioning("-Dcanyu.test=es") & running

        second = canyu("stack", "up")
        assert second.returncode == 0, second.stdout + second.stderr
        assert {p.parent.name: p.read_text() for p in home.glob("stack/*/pid")} == pids
        assert processes_mentioning(str(home)) == running

        status = canyu("stack", "status")
        assert status.returncode == 0, status.stdout
        assert status.stdout.count(" healthy ") == 2
    finally:
        down = canyu("stack", "down")
    assert down.returncode == 0, down.stderr
    assert "kafka: stopped" in down.stdout and "elasticsearch: stopped" in down.stdout
    assert processes_mentioning(str(home)) == set()
    after = canyu("stack", "status")
    assert after.returncode == 1 and after.stdout.count("stopped") == 2
