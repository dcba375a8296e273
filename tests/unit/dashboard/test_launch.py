"""Starting the dashboard beside the pipeline (``canyu up``): waiting until it shows what was indexed."""

from __future__ import annotations

import pytest

from canyu.settings import Settings
from canyu_runtime.retry import NotReady
from dashboard.launch import wait_showing
from tests.local_servers import webhook_receiver


def settings_for(url: str) -> Settings:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    return Settings(dashboard_host=host, dashboard_port=int(port), dashboard_token="read-token-read-token")


def test_it_waits_through_errors_until_the_dashboard_counts_every_post():
    with webhook_receiver() as dashboard:
        dashboard.statuses, dashboard.body = [503, 503], b'{"total": 120}'
        wait_showing(settings_for(dashboard.url), 120, timeout_s=30)
    assert len(dashboard.requests) == 3
    assert dashboard.requests[0][0]["Authorization"] == "Bearer read-token-read-token"


def test_it_gives_up_in_time_saying_what_the_dashboard_last_answered():
    with webhook_receiver() as dashboard, pytest.raises(NotReady, match=r'showing the 120 posts: .*200 \{"total": 7\}'):
        dashboard.body = b'{"total": 7}'
        wait_showing(settings_for(dashboard.url), 120, timeout_s=1)
