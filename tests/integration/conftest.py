"""Integration fixtures: the real local Kafka broker and Elasticsearch node.

Each test gets its own namespace (topic, group and alias prefix), so tests never
see each other's records and counts are exact.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from canyu.settings import Settings
from canyu_cli.stack.servers import servers
from canyu_runtime.elastic import client
from canyu_runtime.kafka_clients import ensure_topics, make_admin, read_all
from canyu_runtime.migrations import migrate


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack() -> Settings:
    settings = Settings()
    for server in servers(settings):
        server.up()  # idempotent: reuses a stack that `canyu stack up` already started
    return settings


@pytest.fixture
def ns(stack: Settings) -> Iterator[Settings]:
    settings = stack.replace(namespace=f"t{uuid.uuid4().hex[:10]}.")
    ensure_topics(settings)
    with client(settings) as es:
        migrate(es, settings)
    yield settings
    forget_namespace(settings)


def forget_namespace(settings: Settings) -> None:
    """Delete a test's topics (Faust's internal ones included), indices and templates, so the
    shared stack does not grow with every run."""
    prefix = settings.namespace
    admin = make_admin(settings, client_id="canyu-tests")
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix)]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()
    with client(settings) as es:
        for name in es.indices.get_index_template(name=f"{prefix}*").get("index_templates", []):
            es.indices.delete_index_template(name=name["name"])
        if es.cluster.exists_component_template(name=f"{prefix}*"):
            es.cluster.delete_component_template(name=f"{prefix}*")
        es.indices.delete(index=f"{prefix}*", allow_no_indices=True, expand_wildcards="all")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that gives a child process exactly these settings (and a free web port)."""
    env = {
        **os.environ,
        "CANYU_WORKER_WEB_PORT": str(free_port()),
        "CANYU_BATCH_WAIT_S": "0.2",
        "CANYU_SINK_WAIT_S": "0.2",
    }
    # Where these are the defaults, still not what this process's environment may say instead.
    every = settings.environment(changed_only=False)
    fixed = {name: every[name] for name in ("CANYU_HOME", "CANYU_NAMESPACE", "CANYU_KAFKA_BOOTSTRAP", "CANYU_ES_URL")}
    return {**env, **settings.environment(), **fixed, **extra}


@contextmanager
def running(role: str, settings: Settings, log_dir: Path, name: str | None = None) -> Iterator[subprocess.Popen]:
    """Run ``canyu <role>`` as its own process, as a user would, for the duration of a test."""
    log = log_dir / f"{name or role}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "canyu_cli", role], env=env_for(settings), stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sys.stderr.write(f"--- end of {log} ---\n{log.read_text(errors='replace')[-3000:]}\n")


def wait_for(predicate: Callable[[], object], timeout: float = 90, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_topic(settings: Settings, topic: str) -> list:
    """Every record currently on a topic, read from the beginning to the end offsets."""
    return read_all(settings, topic)


def committed_everything(settings: Settings, group: str, topic: str) -> bool:
    """True when ``group`` has committed up to the end of every partition of ``topic``."""
    # A consumer that never subscribes only reads the group's offsets; it does not join it.
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        end = consumer.end_offsets(partitions)
        return all(end[tp] == 0 or (consumer.committed(tp) or 0) >= end[tp] for tp in partitions)
    finally:
        consumer.close()


def count_docs(settings: Settings) -> int:
    with client(settings) as es:
        es.indices.refresh(index=settings.posts_alias)
        return es.count(index=settings.posts_alias)["count"]
