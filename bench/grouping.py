"""The cross-language grouping fixture: user bug reports of known bugs, in zh, ko and en.

``tests/fixtures/grouping/bug_reports.jsonl`` holds user bug reports written for the tests:
20 bugs, each reported in zh, ko and en, some twice in one language (a forum post with device,
version and steps, and a short micro-blog post). Some bugs are near-misses of each other: the
same component, a different bug (``bugs.json`` beside it names them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from canyu.schema import Post

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "grouping"
REPORTS = FIXTURES / "bug_reports.jsonl"
BUGS = FIXTURES / "bugs.json"
LANGUAGES = ("zh", "ko", "en")


@dataclass(frozen=True)
class Report:
    bug: str
    lang: str  # the language it is written in, as its author wrote it (not as detected)
    post: Post


@dataclass(frozen=True)
class Bug:
    component: str
    summary: str
    near_misses: tuple[str, ...]  # other bugs of the same component


def load_reports(path: Path = REPORTS) -> list[Report]:
    """The fixture's reports; a line that is not a report stops it, with its line number."""
    reports = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            bug, lang = fields.pop("bug"), fields.pop("lang")
            reports.append(Report(bug, lang, Post.model_validate(fields)))
        except (ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"{path}:{n}: not a bug report: {e}") from e
    return reports


def load_bugs(path: Path = BUGS) -> dict[str, Bug]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {bug: Bug(b["component"], b["summary"], tuple(b["near_misses"])) for bug, b in raw.items()}
