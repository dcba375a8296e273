"""Debian's Chromium for the browser tests, driven by Playwright: never a downloaded browser, and
nothing it does may reach past this machine."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="needs Debian's chromium: apt-get install -y chromium"
)


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def healthy(base: str) -> bool:
    """Whether the dashboard at ``base`` answers its health check."""
    try:
        return httpx.get(f"{base}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
