"""The one Elasticsearch health check, which the local stack and the dashboard's /health share."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from elastic_transport import ConnectionError as NoConnection

from canyu.settings import Settings
from canyu_runtime.elastic import client, health


class Cluster:
    """An Elasticsearch client as far as the health check reads it: one cluster health answer, or an error."""

    def __init__(self, answer: dict | Exception):
        self.answer = answer
        self.asked: list[dict] = []
        self.cluster = SimpleNamespace(health=self._health)

    def options(self, **options):
        self.asked.append(options)
        return self

    def _health(self) -> dict:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize("status", ["green", "yellow"])
def test_a_cluster_that_serves_is_healthy_and_described(status):
    es = Cluster({"status": status, "cluster_name": "canyu-local", "number_of_nodes": 1})
    assert health(es) == f"cluster canyu-local {status}, 1 node(s)"
    assert es.asked == [{"request_timeout": 5, "max_retries": 0}]  # one quick try: a check must not hang


def test_a_red_cluster_or_one_that_does_not_answer_is_not():
    assert health(Cluster({"status": "red", "cluster_name": "c", "number_of_nodes": 1})) is None
    assert health(Cluster(NoConnection("refused"))) is None


def test_nothing_listening_is_not_healthy():
    with client(Settings(es_url="http://127.0.0.1:9")) as es:  # the discard port
        assert health(es) is None
