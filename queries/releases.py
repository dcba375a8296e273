"""A release's impact, as the worker last computed it: read from the release-impacts index, and shown.

One document per release (``<product>|<version>``), kept current by the stream
(streams.watch); docs/releases.md explains the lists and the rules behind them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from elasticsearch import Elasticsearch

from canyu.schema import ImpactItem, ReleaseImpact, Share
from canyu.settings import Settings
from canyu.versions import version_key

LISTS = (("regressions", "Regressions"), ("quieted", "Quieted"), ("persisting", "Persisting"))


def find_impact(es: Elasticsearch, settings: Settings, product: str, version: str) -> ReleaseImpact | None:
    """The impact of ``product`` at ``version`` (any spelling of the release point: 1.0.7 is 1.0.7.0)."""
    hits = es.search(
        index=settings.releases_alias,
        query={"bool": {"filter": [{"term": {"product": product}}]}},
        size=1000,
    )["hits"]["hits"]
    for hit in hits:
        if version_key(hit["_source"]["version"]) == version_key(version):
            return ReleaseImpact.model_validate(hit["_source"])
    return None


def _day(at: datetime) -> str:
    return f"{at.astimezone(timezone.utc):%Y-%m-%d %H:%MZ}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _share(s: Share) -> str:
    if s.share is None:
        return "no posts"
    return f"{_pct(s.share)} [{_pct(s.low)}–{_pct(s.high)}] of {s.total}"


def _item(item: ImpactItem, name: str) -> list[str]:
    about = " ".join(x for x in (item.intent, item.product, item.topic) if x)
    facts = [f"{item.before} → {item.after} reports"]
    if name == "regressions" and item.opened_after:
        facts.append("opened after")
    if item.version_share is not None and name != "quieted":
        facts.append(f"naming the version: {_pct(item.version_share)}")
    if item.languages:
        facts.append(" · ".join(f"{lang} {n}" for lang, n in sorted(item.languages.items(), key=lambda kv: -kv[1])))
    lines = [f"  {item.item_id}  [{item.status}]  {about}", f"    {item.title.splitlines()[0][:100]}",
             f"    {'; '.join(facts)}"]  # fmt: skip
    for evidence in item.evidence:
        text = " ".join(evidence.text.split())[:90]
        lines.append(f"    · {_day(evidence.created_at)} {evidence.language or ''} {evidence.post_id}: {text}")
    return lines


def render(impact: ReleaseImpact) -> str:
    """The impact for a terminal."""
    after_days = (impact.observed_until - impact.date).total_seconds() / 86_400
    lines = [
        f"{impact.product} {impact.version}: {impact.source}, shipped {_day(impact.date)}"
        + (f" ({impact.notes_url})" if impact.notes_url else ""),
        f"window: {impact.window_days} days before and after; observed until {_day(impact.observed_until)} "
        f"({max(0.0, after_days):.1f} days after)",
        "",
        f"negative share of {impact.product} posts: before {_share(impact.negative_before)} → "
        f"after {_share(impact.negative_after)}",
    ]
    if impact.negative_change is not None:
        lines.append(
            f"change: {100 * impact.negative_change:+.1f} points "
            f"[{100 * impact.negative_change_low:+.1f}, {100 * impact.negative_change_high:+.1f}] (95%)"
        )
    for name, title in LISTS:
        items = getattr(impact, name)
        lines += ["", f"{title} ({len(items)})"]
        for item in items:
            lines += _item(item, name)
        if not items:
            lines.append("  none")
    return "\n".join(lines)
