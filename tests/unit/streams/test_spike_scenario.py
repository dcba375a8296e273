"""docs/spikes.md prints the replay of ``docs/examples/spike_scenario.py``: it must still run and say the same."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_documented_replay_is_what_the_example_prints():
    printed = subprocess.run([sys.executable, "docs/examples/spike_scenario.py"], cwd=ROOT, capture_output=True,
                             text=True, check=True, timeout=300).stdout  # fmt: skip
    documented = re.search(r"\$ \.venv/bin/python docs/examples/spike_scenario\.py\n(.*?)```",
                           (ROOT / "docs/spikes.md").read_text(), re.S).group(1)  # fmt: skip
    assert printed == documented
