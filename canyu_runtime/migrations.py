"""Applying the index templates and aliases of ``canyu.indices`` to a cluster, any number of times."""

from __future__ import annotations

from datetime import datetime, timezone

from elasticsearch import BadRequestError, Elasticsearch

from canyu.indices import kinds, load_analysis, load_template
from canyu.settings import Settings
from canyu_runtime.errors import Misconfigured


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
    component, name = analysis_component(settings), settings.elasticsearch.analysis
    try:
        analysis = load_analysis(name)
    except ValueError as e:
        raise Misconfigured(str(e)) from e
    try:
        es.cluster.put_component_template(name=component, template=analysis["template"], meta=analysis["_meta"])
    except BadRequestError as e:
        raise Misconfigured(
            f"es_analysis {name!r}: Elasticsearch refused its analyzer ({e}); install the plugin "
            "it needs on every node (docs/fields.md) or choose another"
        ) from e
    report = [f"component template {component}: analyzer canyu_text = {name}"]
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
