"""Retention and privacy: dropping old months of posts, and forgetting one person's posts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from elasticsearch import Elasticsearch

from canyu.elastic import pages
from canyu.settings import Settings
from sinks.indices import IndexKind, indices_behind, kinds


@dataclass
class RetentionPlan:
    drop: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # behind the alias, but not named by month: never touched


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def plan_retention(index_names: list[str], posts: IndexKind, cutoff: datetime) -> RetentionPlan:
    """A month goes only when all of it is older than ``cutoff``."""
    plan = RetentionPlan()
    for index in sorted(index_names):
        month = posts.month_of(index)
        if month is None:
            plan.unknown.append(index)
        elif _next_month(month) <= cutoff:
            plan.drop.append(index)
        else:
            plan.keep.append(index)
    return plan


def apply_retention(es: Elasticsearch, settings: Settings, cutoff: datetime, dry_run: bool = False) -> RetentionPlan:
    posts = kinds(settings)["posts"]
    plan = plan_retention(indices_behind(es, posts.alias), posts, cutoff)
    if dry_run or not plan.drop:
        return plan
    es.indices.delete(index=",".join(plan.drop))
    if not plan.keep and not plan.unknown:  # keep the read alias alive: an empty month for it to point at
        es.indices.create(index=posts.month_index(datetime.now(timezone.utc)))
    return plan


def forget_author(es: Elasticsearch, settings: Settings, source: str, author_id: str) -> int:
    """Delete every post of one author of one source, in every month; return how many went."""
    alias = kinds(settings)["posts"].alias
    query = {"bool": {"filter": [{"term": {"source": source}}, {"term": {"author.id": author_id}}]}}
    deleted = 0
    for hits in pages(es, alias, query, source=False):
        response = es.bulk(operations=[{"delete": {"_index": h["_index"], "_id": h["_id"]}} for h in hits])
        for item in response["items"]:
            result = item["delete"]
            if result["status"] == 200:
                deleted += 1
            elif result["status"] != 404:  # 404: gone already, which is what we want
                raise RuntimeError(f"could not delete {result['_id']} from {result['_index']}: {result.get('error')}")
    es.indices.refresh(index=alias)
    return deleted
