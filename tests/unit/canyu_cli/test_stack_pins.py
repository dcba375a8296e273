import hashlib
import re
import stat
import tomllib
import uuid
from pathlib import Path

import httpx
import pytest

from canyu_cli.stack.artifacts import Artifact, ChecksumMismatch, fetch, load_pins
from canyu_cli.stack.java import JavaNotFound, find_java
from canyu_cli.stack.servers import cluster_id
from tests.local_servers import file_server

ROOT = Path(__file__).resolve().parents[3]


def test_the_python_client_major_matches_the_elasticsearch_server():
    _, pins = load_pins()
    server_major = pins["elasticsearch"].version.split(".")[0]
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (client,) = [d for d in deps if re.match(r"elasticsearch\b", d)]
    assert f">={server_major}." in client and f"<{int(server_major) + 1}" in client


def test_kafka_is_pinned_to_a_4x_release_with_its_dependencies():
    _, pins = load_pins()
    kafka = pins["kafka"]
    assert kafka.version.startswith("4.")
    coords = {a.coords.rsplit(":", 1)[0] for a in kafka.artifacts}
    assert {"org.apache.kafka:kafka_2.13", "org.apache.kafka:kafka-clients", "org.scala-lang:scala-library"} <= coords
    assert all(re.fullmatch(r"[0-9a-f]{64}", a.sha256) for a in kafka.artifacts)


def _repo_with(tmp_path: Path, artifact: Artifact, content: bytes) -> Path:
    group, name, version, _ = artifact.parts
    folder = tmp_path / "repo" / group.replace(".", "/") / name / version
    folder.mkdir(parents=True)
    (folder / artifact.filename).write_bytes(content)
    return tmp_path / "repo"


def test_fetch_downloads_once_and_verifies(tmp_path):
    content = b"jar bytes"
    artifact = Artifact("org.example:thing:1.0", hashlib.sha256(content).hexdigest())
    with file_server(_repo_with(tmp_path, artifact, content)) as repo:
        path = fetch(artifact, repo, tmp_path / "cache")
        assert path.read_bytes() == content
        (tmp_path / "repo" / "org").rename(tmp_path / "gone")  # a second fetch must use the cache
        assert fetch(artifact, repo, tmp_path / "cache") == path


def test_a_tampered_download_is_rejected_and_deleted(tmp_path):
    artifact = Artifact("org.example:thing:1.0", hashlib.sha256(b"the real thing").hexdigest())
    with file_server(_repo_with(tmp_path, artifact, b"something else")) as repo:
        with pytest.raises(ChecksumMismatch, match="expected"):
            fetch(artifact, repo, tmp_path / "cache")
    assert not (tmp_path / "cache" / artifact.filename).exists()


def test_a_missing_artifact_is_an_error_and_leaves_nothing_in_the_cache(tmp_path):
    artifact = Artifact("org.example:thing:1.0", hashlib.sha256(b"jar bytes").hexdigest())
    (tmp_path / "repo").mkdir()
    with file_server(tmp_path / "repo") as repo, pytest.raises(httpx.HTTPStatusError, match="404"):
        fetch(artifact, repo, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # not even a partial download


def _fake_java(tmp_path: Path, version: str) -> Path:
    home = tmp_path / f"jdk{version}"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2021-01-01' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return home


def test_a_too_old_java_gives_a_clear_error(tmp_path, monkeypatch):
    home = _fake_java(tmp_path, "11.0.2")
    monkeypatch.setattr("canyu_cli.stack.java._candidates", lambda: [home / "bin" / "java"])
    with pytest.raises(JavaNotFound, match=r"Kafka 4.1.1 needs Java 17 or newer; found only: .*Java 11"):
        find_java(17, "Kafka 4.1.1")


def test_no_java_at_all_gives_a_clear_error(monkeypatch):
    monkeypatch.setattr("canyu_cli.stack.java._candidates", lambda: [])
    with pytest.raises(JavaNotFound, match="no java executable was found"):
        find_java(17, "Elasticsearch")


def test_java_home_is_preferred_when_new_enough(tmp_path, monkeypatch):
    home = _fake_java(tmp_path, "21.0.1")
    monkeypatch.setenv("CANYU_JAVA_HOME", str(home))
    assert find_java(17, "Kafka") == home / "bin" / "java"


def test_cluster_ids_never_look_like_an_option(monkeypatch):
    ids = iter([uuid.UUID(bytes=b"\xfb" + bytes(15)), uuid.UUID(bytes=bytes(16))])  # the first encodes to "-w..."
    monkeypatch.setattr("canyu_cli.stack.servers.uuid.uuid4", lambda: next(ids))
    assert cluster_id() == "AAAAAAAAAAAAAAAAAAAAAA"
