"""The indices canyu writes: their names, and the templates that shape them.

Every kind of document lives behind a read alias (``settings.posts_alias`` and
friends). Posts go into one index per month of ``created_at``
(``<alias>-2026.11``), so retention drops whole months; a post's month never
changes, so every fetch of it lands in the same index, where its external
version can be compared. Alerts, feedback items and cascades are few and are
updated in place: one index each, written through the alias.

The templates are the JSON files in ``canyu/conf/``; the text analyzer they name,
``canyu_text``, comes from one component template chosen by
``settings.elasticsearch.analysis`` (a file in ``canyu/conf/analysis/``). Applying them is
``canyu_runtime.migrations``' job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources

from canyu.settings import Settings

MONTH_FORMAT = "%Y.%m"


@dataclass(frozen=True)
class IndexKind:
    name: str  # also the name of its template file in canyu/conf/
    alias: str
    monthly: bool

    def month_index(self, when: datetime) -> str:
        return f"{self.alias}-{when.astimezone(timezone.utc).strftime(MONTH_FORMAT)}"

    def month_of(self, index: str) -> datetime | None:
        """The first instant of the month a monthly index holds, or None for any other index."""
        prefix = f"{self.alias}-"
        if not index.startswith(prefix):
            return None
        try:
            return datetime.strptime(index[len(prefix) :], MONTH_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            return None

    @property
    def first_index(self) -> str:
        """The single index of a kind that is not monthly."""
        return f"{self.alias}-000001"


def kinds(settings: Settings) -> dict[str, IndexKind]:
    return {
        "posts": IndexKind("posts", settings.posts_alias, monthly=True),
        "alerts": IndexKind("alerts", settings.alerts_alias, monthly=False),
        "feedback-items": IndexKind("feedback-items", settings.feedback_alias, monthly=False),
        "cascades": IndexKind("cascades", settings.cascades_alias, monthly=False),
        "release-impacts": IndexKind("release-impacts", settings.releases_alias, monthly=False),
    }


def _conf(*parts: str) -> dict:
    return json.loads(resources.files("canyu").joinpath("conf", *parts).read_text(encoding="utf-8"))


def load_template(kind: str) -> dict:
    """The settings and mappings of one kind of document, as in ``canyu/conf/<kind>.template.json``."""
    return _conf(f"{kind}.template.json")


def analysis_choices() -> list[str]:
    folder = resources.files("canyu").joinpath("conf", "analysis")
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def load_analysis(name: str) -> dict:
    if name not in analysis_choices():
        choices = ", ".join(analysis_choices())
        raise ValueError(f"es_analysis {name!r} is not one of {choices} (canyu/conf/analysis/)")
    return _conf("analysis", f"{name}.json")
