"""Starting the dashboard next to the pipeline (``canyu up``): its address, its tokens, its readiness."""

from __future__ import annotations

import os
import time

import httpx

from canyu.settings import Settings
from dashboard.auth import with_tokens


def dashboard_url(settings: Settings) -> str:
    """The page's address with the read-only token, as a person opens it."""
    return f"http://{settings.dashboard_host}:{settings.dashboard_port}/?token={settings.dashboard_token}"


def export_tokens(settings: Settings) -> Settings:
    """Generate the unset tokens and put them in the environment, so a dashboard child process uses the same."""
    ready = with_tokens(settings)
    os.environ["CANYU_DASHBOARD_TOKEN"] = ready.dashboard_token
    os.environ["CANYU_DASHBOARD_ADMIN_TOKEN"] = ready.dashboard_admin_token
    return ready


def wait_showing(settings: Settings, total: int, timeout_s: float = 60) -> None:
    """Return once the dashboard's API counts ``total`` posts, so the printed address works when it is printed."""
    url = f"http://{settings.dashboard_host}:{settings.dashboard_port}/api/summary"
    headers = {"Authorization": f"Bearer {settings.dashboard_token}"}
    deadline = time.monotonic() + timeout_s
    seen = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, headers=headers, timeout=10)
            seen = f"{response.status_code} {response.text[:200]}"
            if response.status_code == 200 and response.json()["total"] >= total:
                return
        except httpx.HTTPError as e:
            seen = str(e)
        time.sleep(0.5)
    raise RuntimeError(f"the dashboard at {url} does not show the {total} posts after {timeout_s:.0f}s: {seen}")
