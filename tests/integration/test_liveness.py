"""Seeing a stall on the real broker: the metrics of the worker and the sink, `canyu status`, and
`canyu health worker` failing for a worker whose partitions lag while its commits stand still.

The stall to catch: a Faust worker that completed recovery after another member left the
group early (while it was still joining), and then never consumed again."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import timedelta

import pytest

from canyu import topics
from canyu.settings import Settings
from canyu_runtime.kafka_clients import ensure_topics
from tests.integration.conftest import env_for, free_port, read_topic, running, wait_for
from tests.integration.streams.test_worker import assignment, distinct_text, make_post, publish_all

STALL_S = 10
TRIES = 3  # attempts at the start-up race; each one either keeps consuming or is caught


def canyu(settings: Settings, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = env_for(settings, CANYU_WORKER_WEB_PORT=str(settings.worker.web_port))
    return subprocess.run([sys.executable, "-m", "canyu_cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


@contextmanager
def serving(role: str, settings: Settings, log_dir, metrics_port: int):
    """``canyu <role> --metrics-port PORT`` as its own process."""
    log = log_dir / f"{role}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "canyu_cli", role, "--metrics-port", str(metrics_port)],
                                env=env_for(settings), stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def scrape(port: int) -> str:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    except OSError:
        return ""


def enriched_ids(settings: Settings) -> set[bytes]:
    return {r.key for r in read_topic(settings, settings.topic(topics.POSTS_ENRICHED))}


def caught_by_the_health_check(settings: Settings) -> str:
    """Two looks ``STALL_S`` apart: the first records the offsets, the second must fail the worker."""
    canyu(settings, "health", "worker")
    time.sleep(STALL_S + 2)
    result = canyu(settings, "health", "worker")
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stderr


def test_metrics_and_status_show_the_worker_and_the_sink_at_work(ns, tmp_path):
    settings = ns.replace(classifier="lexicon")
    worker_port, sink_port = free_port(), free_port()
    posts = [make_post(i, distinct_text(i), timedelta(seconds=i)) for i in range(30)]
    with serving("worker", settings, tmp_path, worker_port), serving("sink", settings, tmp_path, sink_port):
        publish_all(settings, posts)
        raw, enriched = settings.topic(topics.POSTS_RAW), settings.topic(topics.POSTS_ENRICHED)
        worker_counts = lambda: sum(  # noqa: E731
            float(line.rsplit(" ", 1)[1]) for line in scrape(worker_port).splitlines()
            if line.startswith(f'canyu_processed_total{{topic="{raw}"}}')
        )  # fmt: skip
        wait_for(lambda: worker_counts() == 30, timeout=180, what="the worker's metrics counting 30 raw posts")
        wait_for(lambda: f'canyu_processed_total{{topic="{enriched}"}} 30.0' in scrape(sink_port), timeout=120,
                 what="the sink's metrics counting 30 enriched posts")  # fmt: skip
        sink_metrics = scrape(sink_port)
        assert (
            f'canyu_consumer_lag{{group="{settings.sink_group}",partition="0",topic="{enriched}"}} 0.0' in sink_metrics
        )
        assert "canyu_batch_duration_seconds_count" in sink_metrics
        assert 'canyu_service_info{group="' + settings.sink_group + '",service="sink"} 1.0' in sink_metrics
        time.sleep(6)  # one more status file from each
        status = canyu(settings, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    lines = {line.split(" ")[0]: line for line in status.stdout.splitlines()}
    assert lines["worker"].startswith(f"worker ({settings.worker_app_id}): ok; lag 0;")
    assert lines["sink"].startswith(f"sink ({settings.sink_group}): ok; lag 0;")
    assert "records/s" in lines["sink"] and "records/s" in lines["worker"]
    assert "not running here" in lines["deliver"]


def survivor_stalled(ns: Settings, attempt: int, log_dir) -> bool:
    """One try of the race; True when the survivor stalled (and the health check caught it)."""
    settings = ns.replace(classifier="lexicon", worker_stall_s=STALL_S, namespace=f"{ns.namespace}{attempt}.")
    ensure_topics(settings)
    ports = [free_port(), free_port()]
    one, two = (settings.replace(worker_web_port=port) for port in ports)
    stateful = [settings.topic(topics.POSTS_CLASSIFIED), 0]
    with (
        running("worker", one, log_dir, name=f"try{attempt}-a") as a,
        running("worker", two, log_dir, name=f"try{attempt}-b") as b,
    ):
        leaves = {ports[0]: (a, two), ports[1]: (b, one)}  # the owner that leaves, and the survivor's settings
        owner = wait_for(lambda: next((p for p in ports if stateful in assignment(p)), None),
                         what="an owner of the stateful partition")  # fmt: skip
        leaving, survivor = leaves[owner]
        leaving.send_signal(signal.SIGTERM)  # at once: the other worker may still be joining
        leaving.wait(60)
        publish_all(settings, [make_post(i, distinct_text(i), timedelta(seconds=i)) for i in range(20)])
        try:
            wait_for(lambda: len(enriched_ids(settings)) == 20, timeout=90, what="the survivor processing")
            return False
        except AssertionError:
            assert "no progress" in caught_by_the_health_check(survivor)
            return True


@pytest.mark.timeout(900)
def test_a_survivor_of_a_member_that_left_while_it_joined_consumes_or_is_caught(ns, tmp_path):
    """Both workers start together; the owner of the stateful partition stops as soon as it has it,
    while the other is still joining. The survivor must then process every post, or else the
    health check must fail it."""
    stalls = sum(survivor_stalled(ns, attempt, tmp_path) for attempt in range(TRIES))
    sys.stderr.write(f"the survivor stalled in {stalls} of {TRIES} tries\n")
    print(f"the survivor stalled in {stalls} of {TRIES} tries")


@pytest.mark.timeout(600)
def test_a_paused_worker_with_lag_fails_its_health_check(ns, tmp_path):
    settings = ns.replace(classifier="lexicon", worker_stall_s=STALL_S, worker_web_port=free_port())
    posts = [make_post(i, distinct_text(i), timedelta(seconds=i)) for i in range(40)]
    with running("worker", settings, tmp_path) as worker:
        wait_for(lambda: any(t == settings.topic(topics.POSTS_RAW) for t, _ in assignment(settings.worker.web_port)),
                 what="the worker holding posts.raw")  # fmt: skip
        publish_all(settings, posts[:20])
        wait_for(lambda: len(enriched_ids(settings)) == 20, timeout=120, what="the first posts through")
        time.sleep(6)  # the status file has the assignment
        healthy = canyu(settings, "health", "worker")
        assert healthy.returncode == 0, healthy.stderr
        worker.send_signal(signal.SIGSTOP)
        try:
            publish_all(settings, posts[20:])
            stderr = caught_by_the_health_check(settings)
            status = canyu(settings, "status")
        finally:
            worker.send_signal(signal.SIGCONT)
    assert "no progress" in stderr and "lags by" in stderr
    assert status.returncode == 1 and "worker" in status.stdout and "STALLED" in status.stdout
