"""Starting the dashboard next to the pipeline (``canyu up``): its address, its tokens, its readiness."""

from __future__ import annotations

import os

import httpx

from canyu.settings import Settings
from canyu_runtime.retry import NotReady, wait_until
from dashboard.auth import token_file


def dashboard_url(settings: Settings) -> str:
    """The page's address as a person opens it, in a shell: with where the read-only token is, never the token.

    ``settings`` are the ones before ``with_tokens``: an unset token is in its file (``$(cat …)``).
    """
    if settings.dashboard.token is None:
        token = f"$(cat {token_file(settings)})"
    elif os.environ.get("CANYU_DASHBOARD_TOKEN") == settings.dashboard.token:
        token = "$CANYU_DASHBOARD_TOKEN"
    else:
        token = "<your dashboard_token setting>"
    return f"http://{settings.dashboard.host}:{settings.dashboard.port}/?token={token}"


def wait_showing(settings: Settings, total: int, timeout_s: float = 60) -> None:
    """Return once the dashboard's API counts ``total`` posts, so the printed address works when it is printed."""
    url = f"http://{settings.dashboard.host}:{settings.dashboard.port}/api/summary"
    headers = {"Authorization": f"Bearer {settings.dashboard.token}"}

    def showing() -> None:
        try:
            response = httpx.get(url, headers=headers, timeout=10)
        except httpx.HTTPError as e:
            raise NotReady(str(e)) from None
        if response.status_code != 200 or response.json()["total"] < total:
            raise NotReady(f"{response.status_code} {response.text[:200]}")

    wait_until(showing, timeout_s=timeout_s, what=f"the dashboard at {url} showing the {total} posts", every_s=0.5)
