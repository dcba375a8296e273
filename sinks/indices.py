"""The indices canyu writes: their names, their templates, and migrating them.

Every kind of document lives behind a read alias (``settings.posts_alias`` and
friends). Posts go into one index per month of ``created_at``
(``<alias>-2026.11``), so retention drops whole months; a post's month never
changes, so every fetch of it lands in the same index, where its external
version can be compared. Alerts, feedback items and cascades are few and are
updated in place: one index each, written through the alias.

The templates are the JSON files in ``canyu/conf/``; the text analyzer they name,
``canyu_text``, comes from one component template chosen by
``settings.es_analysis`` (a file in ``canyu/conf/analysis/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from elasticsearch import BadRequestError, Elasticsearch

from canyu.elastic import load_analysis, load_template
from canyu.settings import Settings
from sinks.base import Misconfigured

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
    }


def analysis_component(settings: Settings) -> str:
    return f"{settings.namespace}canyu-text-analysis"


def indices_behind(es: Elasticsearch, alias: str) -> list[str]:
    if not es.indices.exists_alias(name=alias):
        return []
    return sorted(es.indices.get_alias(name=alias).body)


def migrate(es: Elasticsearch, settings: Settings, now: datetime | None = None) -> list[str]:
    """Apply the templates and aliases; safe to run any number of times. Returns what it did, line by line.

    Existing indices get any new fields of their mapping; a change Elasticsearch
    cannot apply in place (a field's type or analyzer) is reported, and only new
    indices get it.
    """
    now = now or datetime.now(timezone.utc)
    component = analysis_component(settings)
    try:
        analysis = load_analysis(settings.es_analysis)
    except ValueError as e:
        raise Misconfigured(str(e)) from e
    try:
        es.cluster.put_component_template(name=component, template=analysis["template"], meta=analysis["_meta"])
    except BadRequestError as e:
        raise Misconfigured(
            f"es_analysis {settings.es_analysis!r}: Elasticsearch refused its analyzer ({e}); install the plugin "
            "it needs on every node (docs/fields.md) or choose another"
        ) from e
    report = [f"component template {component}: analyzer canyu_text = {settings.es_analysis}"]
    for kind in kinds(settings).values():
        template = load_template(kind.name)
        body = {"settings": template["settings"], "mappings": template["mappings"]}
        if kind.monthly:  # new months join the read alias as Elasticsearch creates them
            body["aliases"] = {kind.alias: {}}
        es.indices.put_index_template(
            name=kind.alias, index_patterns=[f"{kind.alias}-*"], composed_of=[component], template=body, priority=100
        )
        existing = indices_behind(es, kind.alias)
        if not existing:
            index = kind.month_index(now) if kind.monthly else kind.first_index
            es.indices.create(index=index, aliases={} if kind.monthly else {kind.alias: {"is_write_index": True}})
            report.append(f"{kind.alias}: template applied, created {index}")
            continue
        report.append(f"{kind.alias}: template applied, {len(existing)} existing index(es)")
        for index in existing:
            try:
                es.indices.put_mapping(index=index, **template["mappings"])
            except BadRequestError as e:
                report.append(f"  {index} keeps its old mapping, reindex to apply the new one: {e}")
    return report
