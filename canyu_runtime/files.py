"""Small files that readers in other processes must never see half written (and only their owner may read)."""

from __future__ import annotations

import json
from pathlib import Path

from canyu_runtime.private import write_private


def write_json_atomically(path: Path, data: object) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``: 0600, in a 0700 folder."""
    write_private(path, json.dumps(data, ensure_ascii=False).encode())
