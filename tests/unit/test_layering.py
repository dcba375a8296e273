"""The layering rules of .importlinter, checked by a plain `pytest` (README, "Layout").

import-linter reads the contracts from the repository's .importlinter and the code from the
packages it names; a new upward import, a room importing another room (beyond streams →
models), or an import cycle fails here with import-linter's own explanation.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_layering_contract_is_kept():
    run = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
