"""Retention and privacy: dropping old months of posts, and forgetting one person.

Forgetting an author of a source deletes their posts from every month, and scrubs
the copies of them that other documents keep:

- alerts lose the person's post ids from ``sample_post_ids`` and the matching texts
  from ``samples``;
- feedback items lose their post ids from ``sample_post_ids``, and a ``title`` taken
  from one of those posts becomes ``REMOVED_TITLE``;
- cascades lose the person's ``top_amplifiers`` entries, and ``root_author_id``
  becomes null when they wrote the root.

Documents are read and written back: no scripts, since the integ-test node has
neither painless nor update-by-query. A scrubbed document keeps its timestamps and
is written at its version + 1 with ``version_type: external``. That write fails if
the sink changed the document since it was read (it is then read and scrubbed
again). Afterwards the sink's ``external_gte`` refuses, as stale, a re-delivery of
the record the document came from (the same version) and anything older, while the
worker's next real update, later by at least a microsecond, replaces it as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial

from elasticsearch import Elasticsearch

from canyu.filters import Filters
from canyu.indices import IndexKind, kinds
from canyu.settings import Settings
from canyu_runtime.elastic import pages
from canyu_runtime.migrations import indices_behind
from canyu_runtime.retry import RetryPolicy

REMOVED_TITLE = "(removed at the author's request)"
CONFLICT = 409
# Read-modify-write rounds for documents that the sink keeps changing meanwhile, a short wait apart.
REWRITE_RETRY = RetryPolicy(first_s=0.1, max_s=1.0, attempts=5)

Scrub = Callable[[dict], "dict | None"]  # the document without the person, or None when it has nothing of them


@dataclass
class Forgotten:
    """What ``forget_author`` changed: posts deleted, and documents of each other kind scrubbed."""

    posts: int = 0
    alerts: int = 0
    feedback_items: int = 0
    cascades: int = 0


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


def forget_author(es: Elasticsearch, settings: Settings, source: str, author_id: str) -> Forgotten:
    """Delete every post of one author of one source, in every month, and scrub what alerts, feedback
    items and cascades copied from them; return how many documents of each kind changed."""
    kind = kinds(settings)
    aliases = ",".join(k.alias for k in kind.values())
    es.indices.refresh(index=aliases)  # searches see what was written up to now
    scrubbed: dict[str, set[str]] = {"alerts": set(), "feedback-items": set(), "cascades": set()}
    spread = {"bool": {
        "filter": [{"prefix": {"root_id": f"{source}:"}}],  # author ids are per source; a root id names its source
        "should": [{"term": {"root_author_id": author_id}}, {"term": {"top_amplifiers.author_id": author_id}}],
        "minimum_should_match": 1,
    }}  # fmt: skip
    _rewrite(es, kind["cascades"].alias, spread, partial(_scrub_cascade, author_id=author_id), scrubbed["cascades"])
    deleted = 0
    query = {"bool": {"filter": Filters(source=[source], author=[author_id]).post_clauses()}}
    for hits in pages(es, kind["posts"].alias, query, source=["title", "text"]):
        gone = {h["_id"]: _full_text(h.get("_source", {})) for h in hits}
        sampled = {"terms": {"sample_post_ids": list(gone)}}
        # Scrub, then delete: should this stop half-way, another run still finds the posts to scrub for.
        _rewrite(es, kind["alerts"].alias, sampled, partial(_scrub_alert, gone=gone), scrubbed["alerts"])
        feedback = partial(_scrub_feedback_item, gone=gone)
        _rewrite(es, kind["feedback-items"].alias, sampled, feedback, scrubbed["feedback-items"])
        deleted += _delete(es, hits)
    es.indices.refresh(index=aliases)
    return Forgotten(deleted, len(scrubbed["alerts"]), len(scrubbed["feedback-items"]), len(scrubbed["cascades"]))


def _delete(es: Elasticsearch, hits: list[dict]) -> int:
    response = es.bulk(operations=[{"delete": {"_index": h["_index"], "_id": h["_id"]}} for h in hits])
    deleted = 0
    for item in response["items"]:
        result = item["delete"]
        if result["status"] == 200:
            deleted += 1
        elif result["status"] != 404:  # 404: gone already, which is what we want
            raise RuntimeError(f"could not delete {result['_id']} from {result['_index']}: {result.get('error')}")
    return deleted


def _full_text(post: dict) -> str:
    """What the worker copies into samples and titles (``Post.full_text``)."""
    title, text = post.get("title"), post.get("text") or ""
    return f"{title}\n{text}" if title else text


def _scrub_alert(alert: dict, gone: dict[str, str]) -> dict | None:
    ids, samples = alert.get("sample_post_ids") or [], alert.get("samples") or []
    keep = [i for i, post_id in enumerate(ids) if post_id not in gone]
    if len(keep) == len(ids):
        return None
    # samples[i] is the text of sample_post_ids[i]; a viral alert has an id and no text
    texts = [samples[i] for i in keep if i < len(samples)]
    return {**alert, "sample_post_ids": [ids[i] for i in keep], "samples": texts}


def _scrub_feedback_item(item: dict, gone: dict[str, str]) -> dict | None:
    ids = item.get("sample_post_ids") or []
    theirs = [post_id for post_id in ids if post_id in gone]
    if not theirs:
        return None
    clean = {**item, "sample_post_ids": [post_id for post_id in ids if post_id not in gone]}
    title = item.get("title")
    if title and any(gone[post_id].startswith(title) for post_id in theirs):  # the worker shortens long titles
        clean["title"] = REMOVED_TITLE
    return clean


def _scrub_cascade(cascade: dict, author_id: str) -> dict | None:
    amplifiers = cascade.get("top_amplifiers") or []
    kept = [a for a in amplifiers if a.get("author_id") != author_id]
    rooted = cascade.get("root_author_id") == author_id
    if not rooted and len(kept) == len(amplifiers):
        return None
    return {**cascade, "top_amplifiers": kept, "root_author_id": None if rooted else cascade.get("root_author_id")}


class Changed(Exception):
    """Documents that the sink changed between their read and their write."""


def _rewrite(es: Elasticsearch, alias: str, query: dict, scrub: Scrub, scrubbed: set[str],
             sleep: Callable[[float], None] | None = None) -> None:  # fmt: skip
    """Read, scrub and write back every document that ``query`` finds and ``scrub`` changes; add their
    ids to ``scrubbed``. One that the sink changes between the read and the write is done again, under
    ``REWRITE_RETRY`` (``sleep`` stands in for its waits in tests)."""
    for hits in pages(es, alias, query, source=False):
        pending = [(h["_index"], h["_id"]) for h in hits]

        def one_round() -> None:
            nonlocal pending
            pending = _rewrite_once(es, pending, scrub, scrubbed)
            if pending:
                raise Changed(f"{', '.join(i for _, i in pending)} changed while being scrubbed")

        try:
            REWRITE_RETRY.call(one_round, what=f"scrubbing {alias}", retry_on=Changed, sleep=sleep)
        except Changed:
            ids = ", ".join(i for _, i in pending)
            raise RuntimeError(f"{alias}: {ids} kept changing; run forget-author again") from None


def _rewrite_once(es: Elasticsearch, refs: list[tuple[str, str]], scrub: Scrub, scrubbed: set[str]) -> list:
    """One round for ``refs``; returns those that changed after they were read (a version conflict)."""
    operations = []
    for doc in es.mget(docs=[{"_index": index, "_id": id_} for index, id_ in refs])["docs"]:  # realtime: the latest
        clean = scrub(doc["_source"]) if doc.get("found") else None
        if clean is not None:
            where = {"_index": doc["_index"], "_id": doc["_id"], "version": doc["_version"] + 1}
            operations += [{"index": {**where, "version_type": "external"}}, clean]
    if not operations:
        return []
    conflicts = []
    for item in es.bulk(operations=operations)["items"]:
        result = item["index"]
        if result["status"] == CONFLICT:
            conflicts.append((result["_index"], result["_id"]))
        elif "error" in result:
            raise RuntimeError(f"could not scrub {result['_id']} in {result['_index']}: {result['error']}")
        else:
            scrubbed.add(result["_id"])
    return conflicts
