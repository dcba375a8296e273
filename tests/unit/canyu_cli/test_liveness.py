"""Which partitions `canyu health worker` checks: the worker's web endpoint says, or else its status file."""

from __future__ import annotations

import json

import pytest

from canyu.settings import Settings
from canyu_cli import liveness
from canyu_runtime.metrics import status_path
from tests.local_servers import webhook_receiver


@pytest.fixture
def checked(monkeypatch) -> list:
    """The partitions each lag check was asked about (the check itself reads Kafka)."""
    asked: list = []
    monkeypatch.setattr(liveness, "check", lambda settings, service, only, now, not_before: asked.append(only))
    return asked


def test_the_partitions_come_from_the_workers_web_endpoint(tmp_path, checked):
    with webhook_receiver() as worker:
        worker.body = b'[["t.posts.raw", 0], ["t.posts.raw", 3]]'
        port = int(worker.url.rsplit(":", 1)[1].split("/")[0])
        found = liveness.worker_liveness(Settings(home=tmp_path, worker_web_port=port))
    assert found.web_error is None and checked == [{("t.posts.raw", 0), ("t.posts.raw", 3)}]
    assert worker.requests  # asked over HTTP


@pytest.mark.parametrize("answer", [None, 503])
def test_a_worker_that_does_not_answer_is_reported_and_its_status_file_names_the_partitions(tmp_path, checked, answer):
    with webhook_receiver() as worker:
        worker.statuses = [answer] if answer else []
        port = int(worker.url.rsplit(":", 1)[1].split("/")[0]) if answer else 9  # 9: nothing listens
        settings = Settings(home=tmp_path, worker_web_port=port)
        path = status_path(settings, settings.worker_app_id, str(port))
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"assigned": [["t.posts.raw", 1]], "started": 0}))
        found = liveness.worker_liveness(settings)
    assert f"worker web endpoint on port {port} does not answer" in found.web_error
    assert checked == [{("t.posts.raw", 1)}]
