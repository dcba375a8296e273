import os

import pytest


@pytest.fixture(autouse=True)
def no_ambient_canyu_settings(monkeypatch):
    """Unit tests see only the settings they set, whatever the shell or CI exported."""
    for name in [n for n in os.environ if n.startswith("CANYU_")]:
        monkeypatch.delenv(name)
