"""The release loop inside the stateful step: releases, fixes and their alerts, over its tables.

:class:`ReleaseWatch` works beside :class:`streams.signals.Signals`, on the same cached tables
and the same offset stamps (exactly once under at-least-once delivery, docs/streams.md):

- each post adds to its products' negative and total posts of the day (``product_days``);
- a version that ``seen_authors`` distinct authors name within a day becomes a release seen
  in posts (``sightings``), sent to the ``releases`` topic unless a team registered it;
- each feedback item a post joins is checked against the releases that concern it (a
  regression alert, once per release and item) and, when engineers marked it fixed in a
  version that has shipped, against its fix (a fix_failed alert, once per item and version);
- the items' status (verified, fix_failed) and history are derived when they are sent;
- release impacts (:func:`streams.releases.impact`) are computed again for the releases that
  posts touched, at most every few seconds, by the agent.

Releases and item lifecycles come from the compacted topics that people write (``canyu
release``, ``canyu item``), which every worker follows (:class:`Registries`). The worker
turns a change there into a sync record on ``posts.classified``, so that it is applied here
like a post: in order, with table writes, in :meth:`ReleaseWatch.sync`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from canyu.schema import Alert, FeedbackItem, ItemChange, ItemLifecycle, Release, ReleaseImpact
from canyu_runtime.registry import decode
from streams.feedback import SAMPLE_CHARS, ItemState, named_products
from streams.records import Cooldown, ProductDay, Sighting, Stamped
from streams.releases import (
    DAY,
    Window,
    check_fix,
    day_of,
    impact,
    item_products,
    judge,
    release_of_fix,
)


class Registries(Protocol):
    """What people said, as the worker follows it: releases by key, item lifecycles by item id."""

    @property
    def version(self) -> int: ...  # grows whenever either changes

    def releases(self) -> dict[str, Release]: ...

    def lifecycles(self) -> dict[str, ItemLifecycle]: ...


@dataclass
class StaticRegistries:
    """Registries held in memory: for tests and tools that replay posts without Kafka."""

    releases_: dict[str, Release] = field(default_factory=dict)
    lifecycles_: dict[str, ItemLifecycle] = field(default_factory=dict)
    version: int = 0

    def releases(self) -> dict[str, Release]:
        return self.releases_

    def lifecycles(self) -> dict[str, ItemLifecycle]:
        return self.lifecycles_

    def add_release(self, release: Release) -> None:
        self.releases_[release.key] = release
        self.version += 1

    def set_lifecycle(self, lifecycle: ItemLifecycle) -> None:
        self.lifecycles_[lifecycle.item_id] = lifecycle
        self.version += 1


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


class ReleaseWatch:
    """``signals``: the :class:`streams.signals.Signals` whose tables, clock and registries it shares.
    Methods that make something to send add it to ``out``, an ``Outputs`` of that module."""

    def __init__(self, signals):
        self.s = signals
        self.rules = signals.config.releases
        self.dirty: set[str] = set()  # release keys whose impact is to be computed again
        self._by_product: dict[str, list[Release]] = {}
        self._indexed_version = -1
        self._applied: dict[str, Release] = {}  # the releases sync has checked the items against
        self._day: int | None = None
        # item id → when its shipped fix is verified if no report comes first; the item is sent then.
        # Derived from the items and the registries: sync fills it again after a restart.
        self.watching: dict[str, float] = {}

    # --- what people said --------------------------------------------------------------

    def releases_of(self, products: set[str] | list[str]) -> list[Release]:
        registries = self.s.registries
        if registries.version != self._indexed_version:
            self._indexed_version = registries.version
            self._by_product = {}
            for release in registries.releases().values():
                self._by_product.setdefault(release.product, []).append(release)
        return [r for p in products for r in self._by_product.get(p, ())]

    def _now(self) -> float:
        return self.s.recent.clock.watermark

    def _touch(self, products: set[str] | list[str], at: float) -> None:
        """Posts at ``at`` about ``products`` came: the impacts of their releases may have changed."""
        for release in self.releases_of(products):
            if self.rules.active(release, at):
                self.dirty.add(release.key)
        day = day_of(self._now())
        if day != self._day:  # a new day: every window around it moves on
            self._day = day
            now = self._now()
            self.dirty.update(r.key for r in self.s.registries.releases().values() if self.rules.active(r, now - DAY))

    # --- per post ------------------------------------------------------------------------

    def count_product_days(self, post, t: float, offset: int) -> None:
        products = named_products(post)
        negative = post.sentiment.label == "negative"
        for product in products:
            key = f"{product}|{day_of(t)}"
            stored = self.s.c.product_days.get(key) or ProductDay(-1)
            if stored.offset < offset:
                self.s.c.product_days[key] = ProductDay(offset, stored.negative + negative, stored.total + 1)
        self._touch(products, t)

    def sight(self, post, t: float, offset: int, out) -> None:
        """Count the post's author for each version it names; a version named by enough authors
        within a day is a release seen in posts."""
        for mention in post.versions:
            product = mention.product if mention.line == "app" else mention.line
            if product is None:  # "v3.2.1" of an app the post does not name: which app's?
                continue
            key = Release.key_of(product, mention.version)
            stored = self.s.c.sightings.get(key)
            if stored is not None and stored.offset >= offset:
                if stored.offset == offset and stored.seen is not None:  # this post made it: send again
                    out.releases.append(self._seen(product, mention.version, stored))
                continue
            if stored is not None and stored.seen is not None:
                if t < stored.first_seen:  # named earlier than the posts read so far said: its date moves back
                    sighting = Sighting(offset, t, stored.authors, stored.seen)
                    self.s.c.sightings[key] = sighting
                    self._announce(product, mention.version, sighting, out)
                continue  # a release already: nothing more to count
            first_seen = min(stored.first_seen, t) if stored else t
            named = {a: at for a, at in (stored.authors if stored else ())}
            named[post.author.id] = max(t, named.get(post.author.id, t))
            newest = max(named.values())
            recent = sorted(((a, at) for a, at in named.items() if at >= newest - DAY), key=lambda a: -a[1])
            authors = tuple(recent[: self.rules.seen_authors])
            seen = t if len(authors) >= self.rules.seen_authors else None
            sighting = Sighting(offset, first_seen, authors, seen)
            self.s.c.sightings[key] = sighting
            if seen is not None:
                self._announce(product, mention.version, sighting, out)

    def _announce(self, product: str, version: str, sighting: Sighting, out) -> None:
        """Send the release seen in posts, unless a team registered it (theirs wins)."""
        known = self.s.registries.releases().get(Release.key_of(product, version))
        if known is None or known.source == "seen":
            out.releases.append(self._seen(product, version, sighting))

    def _seen(self, product: str, version: str, sighting: Sighting) -> Release:
        return Release(product=product, version=version, date=_at(sighting.first_seen), source="seen",
                       authors=len(sighting.authors), created_at=_at(sighting.seen))  # fmt: skip

    def check_item(self, item: ItemState, at: float, offset: int, out) -> None:
        """The item just changed (a post joined it, or what people said about it): apply the newest
        lifecycle, and raise what its releases and its fix now call for. ``at``: the post's event time,
        or the stream's; a post judges its item at its own time, even where a slower partition holds
        the watermark behind it."""
        self._apply_lifecycle(item)
        now = max(self._now(), at)
        products = item_products(item)
        fixed = self._fixed_release(item, now)
        if fixed is not None:
            release, version = fixed
            check = check_fix(item, release, now, self.rules)
            done = item.fix_failed
            if check.failed and (done is None or done[0] != version or done[2] == offset):
                item.fix_failed = [version, at, offset]
                out.alerts.append(self._fix_failed(item, release, version, check.reports, check.rate))
        self._watch(item, now)
        for release in self.releases_of(products):
            d = release.date.timestamp()
            if not (self.rules.active(release, now) and now >= d):
                continue
            window = Window.of(release, now, self.rules.window_days)
            before, after = window.counts(item.reports_per_day())  # as impact() counts them
            opened_after = datetime.fromisoformat(item.first_seen).timestamp() >= d
            if judge(before, after, opened_after, window.elapsed_days, self.rules) == "regression":
                if self._once(f"regression|{release.key}|{item.id}", d + self.rules.window_days * DAY, offset):
                    out.alerts.append(self._regression(item, release, before, after))
        self._touch(products, at)

    def _watch(self, item: ItemState, now: float) -> None:
        """When to look at a fixed item again, as the stream's time passes with no post joining it:
        when its fix ships, then when the quiet period after the grace ends (it is verified then)."""
        self.watching.pop(item.id, None)
        lifecycle = item.lifecycle
        if not lifecycle or lifecycle["state"] != "fixed" or not lifecycle.get("fixed_in"):
            return
        version = lifecycle["fixed_in"]
        if item.fix_failed and item.fix_failed[0] == version:
            return  # judged: it did not hold
        release = release_of_fix(version, item_products(item), self.s.registries.releases().values())
        if release is None:
            return  # a release registered or seen later is applied by a sync, which looks again
        if now < release.date.timestamp():
            self.watching[item.id] = release.date.timestamp()
            return
        check = check_fix(item, release, now, self.rules)
        if not check.verified:
            self.watching[item.id] = check.verified_at

    def verify_due(self, out) -> None:
        """Send the items whose fix shipped or became verified as the stream's time passed (no post joins
        them), and look at them again when their next step is due."""
        now = self._now()
        due = [item_id for item_id, at in self.watching.items() if at <= now]
        for item_id in due:
            del self.watching[item_id]
            stored = self.s.c.items.get(item_id)
            if stored is not None:
                item = ItemState(**stored.state)
                out.items.append(self.item_record(item))
                self._restate(item)
                self._watch(item, now)

    def _restate(self, item: ItemState) -> None:
        """The item's status changed: the impacts that list it show it, also of releases whose window
        has closed (their impact is kept as long as it can be computed)."""
        now = self._now()
        for release in self.releases_of(item_products(item)):
            if self.rules.computable(release, now, self.s.config.retention_s):
                self.dirty.add(release.key)

    def _fixed_release(self, item: ItemState, now: float | None = None) -> tuple[Release, str] | None:
        """(the release its fix shipped in, the version) once that has shipped by ``now`` (default: the
        watermark); None otherwise."""
        lifecycle = item.lifecycle
        if not lifecycle or lifecycle["state"] != "fixed" or not lifecycle.get("fixed_in"):
            return None
        version = lifecycle["fixed_in"]
        release = release_of_fix(version, item_products(item), self.s.registries.releases().values())
        if release is None or (self._now() if now is None else now) < release.date.timestamp():
            return None
        return release, version

    def _apply_lifecycle(self, item: ItemState) -> bool:
        """Take what people said last about the item; True when it was news."""
        said = self.s.registries.lifecycles().get(item.id)
        if said is None or not _newer(said, item.lifecycle):
            return False
        item.lifecycle = said.model_dump(mode="json")
        return True

    def _once(self, key: str, until: float, offset: int) -> bool:
        """True the first time ``key`` is asked for, and again only for the record that first asked."""
        stored = self.s.c.cooldowns.get(key)
        if stored is not None:
            return stored.offset == offset
        self.s.c.cooldowns[key] = Cooldown(until, offset)
        return True

    def item_changed(self, item: ItemState) -> None:
        index = self.s.recent.items_by_product
        for product in item_products(item):
            index.setdefault(product, set()).add(item.id)

    # --- what is sent ------------------------------------------------------------------------

    def item_record(self, item: ItemState, status: str | None = None) -> FeedbackItem:
        """The item as the index shows it, with its status and history as of now."""
        derived, history = self._status(item)
        intent, product, topic = item.labels()
        return FeedbackItem(
            id=item.id,
            title=item.title[:SAMPLE_CHARS],
            intent=intent,
            product=product,
            topic=topic,
            count=item.count,
            unique_authors=item.unique_authors,
            first_seen=item.first_seen,
            last_seen=item.last_seen,
            trend=item.trend,
            sample_post_ids=[s[0] for s in item.samples],
            languages=item.languages,
            versions=item.versions,
            status=status or derived,
            fixed_in=(item.lifecycle or {}).get("fixed_in"),
            history=history,
        )

    def _status(self, item: ItemState) -> tuple[str, list[ItemChange]]:
        said = ItemLifecycle.model_validate(item.lifecycle) if item.lifecycle else None
        history = list(said.history) if said else []
        state = said.state if said else "open"
        if state == "fixed" and item.fix_failed and item.fix_failed[0] == said.fixed_in:
            # Judged when the reports came, at their own time: a slower partition does not undo it.
            note = f"reports kept coming after {said.fixed_in} shipped"
            failed = ItemChange(action="fix_failed", at=_at(item.fix_failed[1]), version=said.fixed_in, note=note,
                                by="canyu")  # fmt: skip
            return "fix_failed", [*history, failed]
        fixed = self._fixed_release(item)
        if fixed is None:
            return state, history
        release, version = fixed
        shipped = f"{release.product} {release.version}"
        check = check_fix(item, release, self._now(), self.rules)
        if check.verified:
            note = f"no report for {self.rules.quiet_days:g} days after {shipped} shipped"
            verified = ItemChange(action="verified", at=_at(check.verified_at), version=version, note=note, by="canyu")
            return "verified", [*history, verified]
        return "fixed", history

    def _alert_base(self, item: ItemState, release: Release) -> dict:
        intent, product, topic = item.labels()
        dims = {"product": release.product, "version": release.version, "release": release.key, "item": item.id,
                "intent": intent}  # fmt: skip
        if topic is not None:
            dims["topic"] = topic
        if product is not None and product != release.product:
            dims["item_product"] = product
        posts = [p for p in reversed(item.recent) if p[2] >= release.date.timestamp()][:5]
        return {"dimensions": dims, "sample_post_ids": [p[0] for p in posts], "samples": [p[1] for p in posts]}

    def _regression(self, item: ItemState, release: Release, before: int, after: int) -> Alert:
        d = release.date.timestamp()
        return Alert(
            id=f"regression|{release.key}|{item.id}",
            kind="regression",
            key=f"release={release.key}|item={item.id}",
            window_start=release.date,
            window_end=_at(d + self.rules.window_days * DAY),
            observed=after,
            baseline_mean=before,
            baseline_std=0.0,
            threshold=self.rules.min_posts,
            **self._alert_base(item, release),
        )

    def _fix_failed(self, item: ItemState, release: Release, version: str, reports: int, rate: float) -> Alert:
        return Alert(
            id=f"fix_failed|{item.id}|{version}",
            kind="fix_failed",
            key=f"item={item.id}|fixed_in={version}",
            window_start=release.date,
            window_end=_at(self._now()),
            observed=max(reports, round(rate, 2)),
            baseline_mean=0.0,
            baseline_std=0.0,
            threshold=self.rules.failed_reports if reports >= self.rules.failed_reports else self.rules.failed_rate,
            **self._alert_base(item, release),
        )

    # --- what people said, applied in order ----------------------------------------------

    def sync(self, offset: int, out) -> None:
        """Apply what changed in the registries: new lifecycles to their items, new releases to the
        items they concern; for a sync record at ``offset`` of posts.classified."""
        if self.s.recent.clock.watermark is None:
            return  # no post yet: nothing to apply anything to
        self.s.recent.clock.refresh()  # partitions gone quiet hold the watermark back no more
        releases = self.s.registries.releases()
        changed = [r for key, r in releases.items() if self._applied.get(key) != r]
        self._applied = dict(releases)
        touched = {i for r in changed for i in self.s.recent.items_by_product.get(r.product, ())}
        versions = {r.version for r in changed}
        for item_id, said in self.s.registries.lifecycles().items():
            if said.fixed_in in versions:
                touched.add(item_id)
            stored = self.s.c.items.get(item_id)
            if stored and _newer(said, stored.state.get("lifecycle")):
                touched.add(item_id)
        for release in changed:
            self.dirty.add(release.key)
        for item_id in sorted(touched):
            stored = self.s.c.items.get(item_id)
            if stored is None:
                continue
            item = ItemState(**stored.state)
            self.check_item(item, self._now(), offset, out)
            self.s.c.items[item_id] = Stamped(max(stored.offset, offset), vars(item))
            out.items.append(self.item_record(item))
            self._restate(item)
        self.verify_due(out)

    # --- release impacts -------------------------------------------------------------------

    def impacts(self) -> list[ReleaseImpact]:
        """The impact of each release posts touched since the last call, as of the newest post seen
        (a release's lists show what came, even while a slower partition holds the watermark back)."""
        if self.s._recent is None or self.s.recent.clock.watermark is None:
            return []
        now = self.s.recent.clock.newest
        releases = self.s.registries.releases()
        out = []
        for key in sorted(self.dirty):
            release = releases.get(key)
            if release is None or not self.rules.computable(release, now, self.s.config.retention_s):
                continue
            items = []
            for item_id in self.s.recent.items_by_product.get(release.product, ()):
                stored = self.s.c.items.get(item_id)
                if stored is not None:
                    item = ItemState(**stored.state)
                    items.append((item, self._status(item)[0]))
            out.append(impact(release, items, self._negative(release, now), now, self.rules))
        self.dirty.clear()
        return out

    def _negative(self, release: Release, now: float) -> tuple[tuple[int, int], tuple[int, int]]:
        window = Window.of(release, now, self.rules.window_days)
        first = day_of(release.date.timestamp())
        sides = []
        for days in (range(first - self.rules.window_days, first), range(first, first + len(window.after))):
            found = [self.s.c.product_days.get(f"{release.product}|{d}") for d in days]
            sides.append((sum(f.negative for f in found if f), sum(f.total for f in found if f)))
        return sides[0], sides[1]

    # --- expiry --------------------------------------------------------------------------------

    def expiry_rules(self, watermark: float) -> dict[str, Callable[[str, object], bool]]:
        """What the release tables forget: a product's days once no window can reach them (two
        windows and a day), sightings after the retention."""
        keep = self.rules.keep_days(self.s.config.retention_s) * DAY
        horizon = watermark - self.s.config.retention_s
        return {
            "product_days": lambda k, v: (int(k.rsplit("|", 1)[1]) + 1) * DAY <= watermark - keep,
            "sightings": lambda k, v: v.first_seen < horizon,
        }

    def closed(self, item_id: str, value: Stamped) -> FeedbackItem:
        """An item no post joined for the idle time: the worker stops tracking it, and says so."""
        self.s.recent.forget_item(item_id)
        return self.item_record(ItemState(**value.state), status="closed")


class FollowedRegistries:
    """Registries read from followers of the two compacted topics (``canyu_runtime.registry.Follower``),
    decoded again only when one changed. A value that is no release or lifecycle is skipped here
    (``decode`` logs it); the worker's agents dead-letter it once, with the reason."""

    def __init__(self, releases, lifecycles):
        self._followers = (releases, lifecycles)
        self._decoded: tuple[int, dict, dict] = (-1, {}, {})

    @property
    def version(self) -> int:
        return sum(f.version for f in self._followers)

    def _current(self) -> tuple[int, dict, dict]:
        if self._decoded[0] != self.version:
            version = self.version
            releases = decode(self._followers[0].latest, Release)
            lifecycles = decode(self._followers[1].latest, ItemLifecycle)
            self._decoded = (version, releases, lifecycles)
        return self._decoded

    def releases(self) -> dict[str, Release]:
        return self._current()[1]

    def lifecycles(self) -> dict[str, ItemLifecycle]:
        return self._current()[2]


def _newer(said: ItemLifecycle, applied: dict | None) -> bool:
    """Whether ``said`` is news to an item that last applied ``applied`` (a lifecycle's JSON fields)."""
    return applied is None or said.updated_at > datetime.fromisoformat(applied["updated_at"])
