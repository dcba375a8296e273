"""docs/security.md names, for each threat, the test that shows its rule holds: each named test must exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")


def named_tests() -> list[tuple[str, str]]:
    """(file, test) for every ``file.py::test_name`` of the tables; ``::test_name`` alone is in the file before it."""
    found = []
    for row in (line for line in DOC.splitlines() if line.startswith("| ")):
        file = None
        for path, name in re.findall(r"`((?:[\w/]+/)?test_\w+\.py)?(?:::(test_\w+))?`", row):
            file = path or file
            if name:
                found.append((file, name))
    return found


def test_the_doc_names_a_test_for_every_threat():
    rows = [line for line in DOC.splitlines() if line.startswith("| ") and not line.startswith("| threat")]
    assert len(rows) >= 30 and all("test_" in row for row in rows)


@pytest.mark.parametrize(("file", "name"), named_tests(), ids=lambda value: value)
def test_each_test_that_the_doc_names_exists(file, name):
    path = ROOT / file if file.startswith("tests/") else ROOT / "tests" / "unit" / file
    assert re.search(rf"^def {name}\(", path.read_text(encoding="utf-8"), re.M), f"{file}::{name}"
