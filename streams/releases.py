"""Releases in the stream: which ones concern a post or an item, what each one did, and whether a fix held.

Pure functions over a release and the feedback items' state (their posts and reports per UTC
day, the versions and products their posts name, their newest posts), so the stateful step can
ask at any time, and a release registered days after it shipped is judged on the same history
as one registered beforehand (docs/releases.md).

Around a release's date D, ``window_days`` before are compared with up to ``window_days``
after, by whole UTC days (the day of D counts as after). The counts are an item's reports
(``ItemState.reports_per_day``: its posts that ``feedback.is_report``), so "1.0.7.1 fixed it"
joining the bug's item does not make it regress or persist. An item

- **regressed** when it has at least ``min_posts`` reports after D and either opened after D
  or its reports per day after reached ``jump`` times those before;
- went **quiet** when it had reports before, a day or more has passed, and its reports per
  day after fell to at most 1/``jump`` of those before;
- **persists** when it has reports on both sides and neither of the above holds.

A fix in version V holds or not once V has shipped (its release, registered or seen, is
known): it **did not hold** when ``failed_reports`` posts of the item name V or a later
version of the same line, or when, past ``grace_days`` after the release (phones update
over a day or so), its posts per day reach ``failed_rate``; it is **verified** when no post
joined it for ``quiet_days`` after the grace.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from canyu.schema import Evidence, ImpactItem, Release, ReleaseImpact, Share
from canyu.versions import at_least, version_key
from streams.feedback import ItemState

DAY = 86_400
EVIDENCE = 3
LISTED = 20  # items per list of an impact, the largest first
Z95 = 1.959964


@dataclass(frozen=True)
class ReleaseRules:
    window_days: int = 7
    jump: float = 2.0
    min_posts: int = 3
    seen_authors: int = 5
    grace_days: float = 1.0
    quiet_days: float = 3.0
    failed_reports: int = 2
    failed_rate: float = 2.0

    def active(self, release: Release, now: float) -> bool:
        """Whether posts at ``now`` still fall in the release's window (its impact may still change)."""
        d = release.date.timestamp()
        return d - self.window_days * DAY <= now < d + self.window_days * DAY

    def keep_days(self, retention_s: float) -> float:
        """How long the days a window reads are kept after them (streams.watch): two windows and a day."""
        return max(retention_s / DAY, 2 * self.window_days + 1)

    def computable(self, release: Release, now: float, retention_s: float) -> bool:
        """Whether the posts of the release's window are still kept, so its impact can be computed."""
        end = release.date.timestamp() + self.window_days * DAY
        return now < end + self.keep_days(retention_s) * DAY


def day_of(t: float) -> int:
    return math.floor(t / DAY)


def _iso(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


@dataclass(frozen=True)
class Window:
    """A release's days: the ISO dates before and after it (up to ``now``), and how long after has run."""

    before: tuple[str, ...]
    after: tuple[str, ...]
    elapsed_days: float  # from the release's date to now, at most the window

    @classmethod
    def of(cls, release: Release, now: float, window_days: int) -> Window:
        d = release.date.timestamp()
        first = day_of(d)
        last = min(first + window_days - 1, day_of(now))
        return cls(
            tuple(_iso(x) for x in range(first - window_days, first)),
            tuple(_iso(x) for x in range(first, last + 1)),
            min(float(window_days), max(0.0, (now - d) / DAY)),
        )

    def counts(self, trend: dict[str, int]) -> tuple[int, int]:
        return sum(trend.get(d, 0) for d in self.before), sum(trend.get(d, 0) for d in self.after)


PROBLEMS = frozenset({"bug_report", "complaint"})  # what a release can bring; a wish or a question is no regression


def judge(
    before: int, after: int, opened_after: bool, elapsed_days: float, rules: ReleaseRules, problem: bool = True
) -> str | None:
    """ "regression", "quieted", "persisting", or None (the item says nothing about the release).
    Only a ``problem`` (an item of bug reports or complaints) regresses; another that would is persisting."""
    before_rate = before / rules.window_days
    after_rate = after / max(1.0, elapsed_days)
    if (
        problem
        and after >= rules.min_posts
        and (opened_after or after_rate >= rules.jump * max(before_rate, 1 / rules.window_days))
    ):
        return "regression"
    if before >= 2 and elapsed_days >= 1 and after_rate <= before_rate / rules.jump:
        return "quieted"
    if before and after:
        return "persisting"
    return None


def item_products(item: ItemState) -> set[str]:
    """The products and software lines an item is about: its own, and those its posts name."""
    product = item.labels()[1]
    return {*item.products, *([product] if product is not None else [])}


def naming(versions: dict[str, int], version: str) -> int:
    """Posts that name ``version``, on any line (tags are "<line> <version>")."""
    key = version_key(version)
    return sum(n for tag, n in versions.items() if version_key(tag.split(" ", 1)[1]) == key)


def share(count: int, total: int) -> Share:
    """``count`` of ``total`` with its 95% Wilson score interval."""
    if not total:
        return Share(count=count, total=total)
    low, high = _wilson(count, total)
    return Share(count=count, total=total, share=round(count / total, 4), low=round(low, 4), high=round(high, 4))


def _wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    spread = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return max(0.0, centre - spread), min(1.0, centre + spread)


def change(before: Share, after: Share) -> tuple[float | None, float | None, float | None]:
    """After minus before, with Newcombe's interval (from the two Wilson intervals)."""
    if not before.total or not after.total:
        return None, None, None
    p1, p2 = before.count / before.total, after.count / after.total
    (l1, u1), (l2, u2) = _wilson(before.count, before.total), _wilson(after.count, after.total)
    d = p2 - p1
    low = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return round(d, 4), round(max(-1.0, low), 4), round(min(1.0, high), 4)


def _evidence(item: ItemState, release: Release, after: bool) -> list[Evidence]:
    d = release.date.timestamp()
    posts = [p for p in reversed(item.recent) if (p[2] >= d) == after]
    # After a release, the posts that name its version say most.
    posts.sort(key=lambda p: not any(naming({tag: 1}, release.version) for tag in p[4]))
    return [
        Evidence(
            post_id=p[0], text=p[1], created_at=datetime.fromtimestamp(p[2], timezone.utc), language=p[3], versions=p[4]
        )  # fmt: skip
        for p in posts[:EVIDENCE]
    ]


def impact(
    release: Release,
    items: Iterable[tuple[ItemState, str]],
    negative: tuple[tuple[int, int], tuple[int, int]],
    now: float,
    rules: ReleaseRules,
) -> ReleaseImpact:
    """The release's impact from the items concerning it (each with its status) and the product's
    (negative, total) posts before and after."""
    window = Window.of(release, now, rules.window_days)
    d = release.date.timestamp()
    lists: dict[str, list[ImpactItem]] = {"regression": [], "quieted": [], "persisting": []}
    for item, status in items:
        before, after = window.counts(item.reports_per_day())
        opened_after = datetime.fromisoformat(item.first_seen).timestamp() >= d
        intent, product, topic = item.labels()
        verdict = judge(before, after, opened_after, window.elapsed_days, rules, problem=intent in PROBLEMS)
        if verdict is None:
            continue
        lists[verdict].append(
            ImpactItem(
                item_id=item.id,
                title=item.title,
                intent=intent,
                product=product,
                topic=topic,
                before=before,
                after=after,
                first_seen=item.first_seen,
                opened_after=opened_after,
                version_share=round(min(1.0, naming(item.reports()[0], release.version) / after), 4) if after else None,
                languages=item.languages,
                status=status,
                evidence=_evidence(item, release, after=verdict != "quieted"),
            )
        )
    ranked = {k: sorted(v, key=lambda i: (-(i.after if k != "quieted" else i.before), i.item_id))[:LISTED]
              for k, v in lists.items()}  # fmt: skip
    before_share, after_share = share(*negative[0]), share(*negative[1])
    delta, low, high = change(before_share, after_share)
    return ReleaseImpact(
        id=release.key,
        product=release.product,
        version=release.version,
        date=release.date,
        source=release.source,
        notes_url=release.notes_url,
        window_days=rules.window_days,
        observed_until=datetime.fromtimestamp(now, timezone.utc),
        regressions=ranked["regression"],
        quieted=ranked["quieted"],
        persisting=ranked["persisting"],
        negative_before=before_share,
        negative_after=after_share,
        negative_change=delta,
        negative_change_low=low,
        negative_change_high=high,
    )


# --- fixes -------------------------------------------------------------------------------


def release_of_fix(version: str, products: set[str], releases: Iterable[Release]) -> Release | None:
    """The release a fix in ``version`` ships in: one of the item's products if there is one, the earliest."""
    key = version_key(version)
    shipped = [r for r in releases if version_key(r.version) == key]
    mine = [r for r in shipped if r.product in products]
    return min(mine or shipped, key=lambda r: r.date, default=None)


def reports_on_or_after(item: ItemState, release: Release) -> int:
    """Reports of the item (``ItemState.reports``) that name the fix's version, or a later one of the same line."""
    versions = item.reports()[0]
    lines = {release.product} | {tag.split(" ", 1)[0] for tag in versions if naming({tag: 1}, release.version)}
    return sum(
        n
        for tag, n in versions.items()
        if tag.split(" ", 1)[0] in lines and at_least(tag.split(" ", 1)[1], release.version)
    )


@dataclass(frozen=True)
class FixCheck:
    failed: bool
    verified: bool
    reports: int  # reports naming the fixed version or later
    rate: float  # reports per day after the grace
    verified_at: float  # when the quiet period ends


def check_fix(item: ItemState, release: Release, now: float, rules: ReleaseRules) -> FixCheck:
    grace_end = release.date.timestamp() + rules.grace_days * DAY
    first_day = day_of(grace_end) + 1  # whole days after the grace
    days = range(first_day, day_of(now) + 1)
    per_day = item.reports_per_day()  # "it works now" posts join the item, but say the fix held
    reports_after = sum(per_day.get(_iso(x), 0) for x in days)
    elapsed = (now - grace_end) / DAY
    rate = reports_after / elapsed if elapsed >= 1 else 0.0
    reports = reports_on_or_after(item, release)
    failed = reports >= rules.failed_reports or rate >= rules.failed_rate
    last = item.reports()[1]
    quiet = last is None or datetime.fromisoformat(last).timestamp() <= grace_end  # no report since the grace
    verified_at = grace_end + rules.quiet_days * DAY
    return FixCheck(failed, not failed and now >= verified_at and quiet, reports, rate, verified_at)
