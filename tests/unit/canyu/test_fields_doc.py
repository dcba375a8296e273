"""docs/fields.md documents every indexed field with its mapped type, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from canyu.indices import load_template

DOC = Path(__file__).parents[3] / "docs" / "fields.md"
ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \|")
KINDS = ("posts", "alerts", "feedback-items", "cascades", "release-impacts")


def mapped_fields(properties: dict, prefix: str = "") -> dict[str, str]:
    """Every field a mapping defines, sub-fields included, with its type (``object`` for a bare object)."""
    fields = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            fields |= mapped_fields(spec["properties"], f"{path}.")
            continue
        fields[path] = spec.get("type", "object")
        fields |= {f"{path}.{sub}": sub_spec["type"] for sub, sub_spec in spec.get("fields", {}).items()}
    return fields


def documented_fields(kind: str) -> dict[str, str]:
    sections = re.split(r"^## ", DOC.read_text(encoding="utf-8"), flags=re.M)
    (section,) = [s for s in sections if f"`canyu/conf/{kind}.template.json`" in s.splitlines()[0]]
    rows = [ROW.match(line) for line in section.splitlines()]
    return {m.group(1): m.group(2) for m in rows if m}


@pytest.mark.parametrize("kind", KINDS)
def test_the_field_reference_matches_the_mapping_file(kind):
    mapped = mapped_fields(load_template(kind)["mappings"]["properties"])
    documented = documented_fields(kind)
    assert set(mapped) - set(documented) == set(), f"mapped in {kind} but not in docs/fields.md"
    assert set(documented) - set(mapped) == set(), f"in docs/fields.md but not mapped in {kind}"
    assert documented == mapped, "types differ"


def test_the_drift_check_notices_a_missing_field():
    mapped = mapped_fields({"a": {"type": "keyword"}, "o": {"properties": {"b": {"type": "long"}}}})
    assert mapped == {"a": "keyword", "o.b": "long"}
    assert mapped_fields({"t": {"type": "text", "fields": {"keyword": {"type": "keyword"}}}}) == {
        "t": "text", "t.keyword": "keyword",
    }  # fmt: skip


def test_the_software_lines_are_those_the_field_reference_names():
    from canyu.versions import SOFTWARE_LINES

    (row,) = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| `versions.line` |")]
    assert re.findall(r"`([a-z]+)`", row.split("|")[3]) == list(SOFTWARE_LINES)
