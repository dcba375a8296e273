import os
from pathlib import Path

import pytest

# canyu with its runtime dependencies only, as `make up` and `pip install canyu` install it: `make test` builds it.
RUNTIME_PYTHON = Path(__file__).resolve().parents[2] / ".venv-runtime" / "bin" / "python"


@pytest.fixture(autouse=True)
def no_ambient_canyu_settings(monkeypatch):
    """Unit tests see only the settings they set, whatever the shell or CI exported."""
    for name in [n for n in os.environ if n.startswith("CANYU_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def runtime_python() -> Path:
    """The Python of the runtime-only install (.venv-runtime): skipped where it is not built, failed in CI."""
    if RUNTIME_PYTHON.is_file():
        return RUNTIME_PYTHON
    if os.environ.get("CI"):
        pytest.fail(f"no {RUNTIME_PYTHON}: `make test` builds it (pip install -e . in a venv of its own)")
    pytest.skip(f"needs {RUNTIME_PYTHON}, canyu with its runtime dependencies only (make .venv-runtime/bin/.installed)")
