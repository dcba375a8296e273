"""The stateful half of the stream: near-duplicates, windowed counts, spikes, feedback items
and cascades, for one enriched post at a time (design and reasons in docs/streams.md).

Durable state is five tables, which the Faust app backs with changelogged RocksDB tables
(plain dicts in unit tests). A post writes about two records: its entry in ``posts``, and
one ``counts`` value per dimension it is counted under; a feedback post or a repost adds its
item or its cascade. What can be derived from those tables (the stream's clock, the
near-duplicate bands, each group's open items) is kept in memory only (:mod:`streams.recent`).

**Exactly-once state under at-least-once delivery.** Every aggregate value carries ``offset``, the
offset in ``posts.classified`` of the last post applied to it. A worker killed mid-post may
leave any subset of that post's writes in their changelogs. When the post is delivered again
at the same offset, each change is applied only where the stamp is older, so every post
counts once in every aggregate, whichever of its writes survived. A post id already in
``posts`` at another offset is a replay or a re-fetch: indexed again, never counted again.

What a post makes is sent again whenever its own offset is delivered again: the post, counts,
items and cascades are the latest values under stable keys, so a second copy changes nothing
downstream. Alerts are not (each one notifies people), so a post's alerts are kept in its
``posts`` entry until :meth:`Signals.sent` says Kafka has them.

Event time is ``created_at``, but never later than the post's ``fetched_at`` or
``enriched_at``: a source's clock or timezone gone wrong cannot run the stream's
watermark ahead and make every later post late.

What the stateful step does for releases and fixes (product sentiment per day, releases seen
in posts, regressions, fix checks, release impacts) is :class:`streams.watch.ReleaseWatch`'s,
over the same tables.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache
from itertools import islice

import numpy as np

from canyu.schema import Alert, Cascade, EnrichedPost, FeedbackItem, Release, ReleaseImpact
from models import load_language_means
from streams import feedback, recent
from streams.cascades import VELOCITY_WINDOW, CascadeState, place
from streams.records import (
    Cooldown,
    HourCounts,
    HourSamples,
    PostEntry,
    ProductDay,
    Sighting,
    Stamped,
)
from streams.releases import ReleaseRules
from streams.simhash import features, fingerprint_of
from streams.spikes import Baseline, SpikeRule, baseline
from streams.watch import Registries, ReleaseWatch, StaticRegistries
from streams.windows import Windowing, hopping, tumbling

Table = MutableMapping[str, object]
SAMPLE_CHARS = 280
SAMPLES = 5
CACHED = 20_000  # decoded values kept per table
HOUR = 3600


@dataclass(frozen=True)
class SignalConfig:
    live: Windowing = tumbling("1m", 60, grace=300)  # the counts' resolution (its grace is unused)
    alerting: Windowing = hopping("1h", 3600, 300, grace=300)
    baseline_windows: int = 7 * 24  # trailing 7 days of 1-hour windows
    spike: SpikeRule = SpikeRule()
    near_dup_distance: int = 3
    near_dup_window_s: int = 24 * 3600
    near_dup_min_features: int = 4  # "+1" and "转发微博" are not evidence of copying
    near_dup_capacity: int = 50_000  # posts whose fingerprints are kept in memory: the newest half to all of them
    item_threshold: float = 0.3  # text features' cosine, for a post without a sentence vector
    item_vector_threshold: float = 0.4  # sentence vectors' cosine, around their languages' centres
    item_idle_s: int = 14 * 24 * 3600  # an item with no new post for this long is closed
    items_per_group: int = 16  # open items compared per post by text; past it the least recent closes
    vector_items: int = 256  # open items compared per post by vector (all feedback is one group)
    centre_weight: float = 10.0  # posts that the training-text mean of a language counts for in its centre
    viral_velocity: int = 10
    retention_s: int = 8 * 24 * 3600
    inputs: int = 1  # partitions of posts.raw, each an input of the clock
    idle_input_s: float = 60.0  # an input silent this long holds the watermark back no more
    releases: ReleaseRules = ReleaseRules()


@dataclass
class Tables:
    """Named state; the Faust app passes changelogged tables, tests pass dicts. Keys, and the
    record each value is (``RECORDS``), are in streams/records.py."""

    posts: Table = field(default_factory=dict)
    counts: Table = field(default_factory=dict)
    samples: Table = field(default_factory=dict)
    items: Table = field(default_factory=dict)
    cascades: Table = field(default_factory=dict)
    cooldowns: Table = field(default_factory=dict)
    product_days: Table = field(default_factory=dict)
    sightings: Table = field(default_factory=dict)


# What each table's values are: they are stored encoded, and read back decoded, by streams.recent.Cached.
RECORDS = {
    "posts": PostEntry,
    "counts": HourCounts,
    "samples": HourSamples,
    "items": Stamped,
    "cascades": Stamped,
    "cooldowns": Cooldown,
    "product_days": ProductDay,
    "sightings": Sighting,
}

Message = tuple[str, str, str]  # (topic, as agents.Topics names it: counts, items, ...), key, value


@dataclass
class Outputs:
    post: EnrichedPost | None  # None for what a sync record (not a post) made
    redelivery: bool = False  # the same fetch of a post again, from a replay: nothing to do at all
    late: bool = False  # it came after its alerting windows closed (counted, unless too old)
    counts: dict[str, int] = field(default_factory=dict)  # "1m|<key>|<minute start>" → posts in that minute
    alerts: list[Alert] = field(default_factory=list)
    items: list[FeedbackItem] = field(default_factory=list)
    cascades: list[Cascade] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)  # seen in posts just now
    impacts: list[ReleaseImpact] = field(default_factory=list)

    def messages(self) -> list[Message]:
        """What to send besides the post itself."""
        return [
            *(("counts", key, str(count)) for key, count in self.counts.items()),
            *(("items", item.id, item.model_dump_json()) for item in self.items),
            *(("cascades", cascade.root_id, cascade.model_dump_json()) for cascade in self.cascades),
            *(("releases", release.key, release.model_dump_json()) for release in self.releases),
            *(("impacts", impact.id, impact.model_dump_json()) for impact in self.impacts),
            *(("alerts", alert.id, alert.model_dump_json()) for alert in self.alerts),
        ]


def dimensions(post: EnrichedPost) -> list[dict[str, str]]:
    """The keys a post is counted under: (topic, sentiment) and (product, intent)."""
    topics = [t.id for t in post.topics] or ["other"]
    by_topic = [{"topic": t, "sentiment": post.sentiment.label} for t in topics]
    by_product = [{"product": p, "intent": post.intent.label} for p in post.products]
    return by_topic + by_product


def key_of(dims: dict[str, str]) -> str:
    return "|".join(f"{k}={v}" for k, v in dims.items())


def _iso(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def event_time(post: EnrichedPost) -> float:
    """``created_at`` in epoch seconds, but never after the post was fetched or enriched."""
    return min(post.created_at, post.fetched_at, post.enriched_at).timestamp()


def _hour(t: float) -> int:
    return int(t // HOUR) * HOUR


@lru_cache(maxsize=1)
def _language_means():
    """Read once per process: every rebuild of the in-memory indexes starts its centres from them."""
    return load_language_means()


class Signals:
    def __init__(self, tables: Tables, config: SignalConfig = SignalConfig(), registries: Registries | None = None):
        self.t = tables  # as given: what tests and the worker's pages read
        self.config = config
        self.registries = registries or StaticRegistries()
        self._recent: recent.Recent | None = None
        self._sweeps: dict[str, Iterator] = {}
        self.forget_recent()

    @property
    def recent(self) -> recent.Recent:
        if self._recent is None:
            self._recent = recent.rebuild(
                self.c.posts.items(),
                self.c.items.items(),
                band_count=self.config.near_dup_distance + 1,
                near_dup_capacity=self.config.near_dup_capacity,
                items_per_group=self.config.items_per_group,
                centres=recent.Centres(_language_means(), self.config.centre_weight),
                vector_items=self.config.vector_items,
                inputs=self.config.inputs,
                idle_s=self.config.idle_input_s,
            )
        return self._recent

    def forget_recent(self) -> None:
        """The tables may have changed elsewhere (a rebalance): rebuild the in-memory part before the next post."""
        self._recent = None
        self._sweeps = {}
        # Every read and write of process() goes through these; the tables' values stay decoded here.
        self.c = Tables(**{name: recent.Cached(table, CACHED, RECORDS[name]) for name, table in vars(self.t).items()})
        self.watch = ReleaseWatch(self)

    @property
    def clock(self) -> recent.Clock | None:
        """The stream's clock, once this worker has read its tables; never reads them itself,
        because a page may ask while the tables are still being recovered."""
        return self._recent.clock if self._recent else None

    def fingerprint_of(self, post: EnrichedPost) -> int | None:
        """The post's near-duplicate fingerprint; None when its text has too few features to tell.

        It depends on the text alone, so ``enrich`` works it out, in parallel over the partitions
        of ``posts.raw``, and the one-partition stateful step only reads it."""
        return fingerprint_of(post.full_text, self.config.near_dup_min_features)

    def process(
        self,
        post: EnrichedPost,
        offset: int,
        fp: int | None,
        vector: np.ndarray | None = None,
        partition: int | None = None,
    ) -> Outputs:
        """Every table write for ``post``, read at ``offset`` of ``posts.classified``, and what to
        send; ``fp`` is the post's :meth:`fingerprint_of`, ``vector`` the classifier's sentence vector,
        ``partition`` the partition of posts.raw it came in on (its input, for the clock)."""
        entry: PostEntry | None = self.c.posts.get(post.id)
        fetched = post.fetched_at.timestamp()
        if entry is not None and entry.offset != offset:
            # A replay or a re-fetch: indexed again when newer (its engagement may have changed),
            # never counted again.
            if fetched <= entry.fetched:
                return Outputs(post, redelivery=True)
            self.c.posts[post.id] = replace(entry, fetched=fetched)
            return Outputs(post.model_copy(update={"duplicate_of": entry.duplicate_of, "item_id": entry.item}))
        first_time = entry is None
        if first_time:
            entry = self._entry(post, fp, offset, "-" if partition is None else str(partition))
        out = Outputs(post.model_copy(update={"duplicate_of": entry.duplicate_of}), late=entry.late or entry.too_old)
        self._cascade(post, entry, offset, out)
        changes = {}  # to the entry, made at once: replace() copies every field
        if entry.duplicate_of is None:  # a near-duplicate is indexed but counted once, as its original
            if not entry.too_old:
                self._count(post, entry, offset, out)
            self.watch.count_product_days(post, entry.at, offset)
            self.watch.sight(post, entry.at, offset, out)
            changes["item"] = self._feedback(post, entry, offset, out, vector)
        if self.watch.watching:
            self.watch.verify_due(out)
        if first_time:
            changes["alerts"] = [a.model_dump_json() for a in out.alerts]
        else:  # the entry knows which of its alerts are still to go out: none once they were sent
            out.alerts = [Alert.model_validate_json(a) for a in entry.alerts]
        entry = replace(entry, **changes) if changes else entry
        self.c.posts[post.id] = entry  # also again on a redelivery: this worker may hold it, its changelog not
        return out

    def sent(self, post_id: str) -> None:
        """The post's alerts are in Kafka: a redelivery must not notify anyone again."""
        entry = self.c.posts.get(post_id)
        if entry is not None and entry.alerts:
            self.c.posts[post_id] = replace(entry, alerts=[])

    def _entry(self, post: EnrichedPost, fp: int | None, offset: int, source: str) -> PostEntry:
        """What is decided once per post and kept with it: its time, original, fingerprint, place, and
        the input (partition of posts.raw) it came in on, ``source``."""
        now = event_time(post)
        # Late: too late for every alerting window it falls in (the newest one has closed), so it
        # can change no spike; it is still counted in its minute and hour, which the baselines of
        # later windows sum. Too old: its hour is past what the counts keep.
        clock, alerting = self.recent.clock, self.config.alerting
        late = (
            clock.watermark is not None
            and clock.settled
            and alerting.is_late(alerting.starts(now)[-1], clock.watermark)
        )
        old = late and _hour(now) + HOUR <= clock.watermark - self.config.retention_s
        clock.advance(now, source)
        clock.late += late and not old
        clock.too_old += old
        duplicate_of = None
        if fp is not None:
            horizon = now - self.config.near_dup_window_s
            duplicate_of = self.recent.near_duplicates.find(post.id, fp, now, self.config.near_dup_distance, horizon)
            self.recent.near_duplicates.add(duplicate_of or post.id, fp, now)
        parent = self.c.posts.get(post.repost_of) if post.repost_of else None
        root, depth = place(post, (parent.root, parent.depth) if parent else None)
        return PostEntry(offset, now, post.fetched_at.timestamp(), duplicate_of, fp, root, depth, post.author.id,
                         late=late and not old, too_old=old, input=source)  # fmt: skip

    def _stamped(self, table: Table, key: str, offset: int) -> tuple:
        """(the stored record, whether this offset's change is in it already)."""
        stored = table.get(key)
        return stored, stored is not None and stored.offset >= offset

    # --- windowed counts and spikes ------------------------------------------------------

    def _count(self, post: EnrichedPost, entry: PostEntry, offset: int, out: Outputs) -> None:
        now = entry.at
        hour, minute = _hour(now), self.config.live.starts(now)[0]
        slot = (minute - hour) // 60
        recent_ = self.recent
        for dims in dimensions(post):
            name = key_of(dims)
            stored, applied = self._stamped(self.c.counts, f"{name}|{hour}", offset)
            value = stored or HourCounts(offset, [0] * (HOUR // 60))
            if not applied:
                minutes = list(value.minutes)
                minutes[slot] += 1
                value = HourCounts(offset, minutes)
                if minute < self.config.alerting.trailing(recent_.clock.watermark):
                    recent_.forget_baselines(name)  # a window before the current one changed
            self._keep_sample(f"{name}|{hour}", post, minute, offset)
            self.c.counts[f"{name}|{hour}"] = value
            out.counts[f"{self.config.live.name}|{name}|{minute}"] = value.minutes[slot]
            if not entry.late:  # a late post's windows have closed: it can fire or change no alert
                self._check_spike(dims, entry, offset, out)

    def _keep_sample(self, key: str, post: EnrichedPost, minute: int, offset: int) -> None:
        """The first posts of a key's hour, for the alert to show; a table apart, so that the
        counts, written on every post, stay small."""
        stored, applied = self._stamped(self.c.samples, key, offset)
        if stored is None or (not applied and len(stored.samples) < SAMPLES):
            kept = stored.samples if stored else []
            self.c.samples[key] = HourSamples(offset, [*kept, [post.id, post.full_text[:SAMPLE_CHARS], minute]])

    def _window(self, name: str, start: int) -> int:
        """Posts counted for ``name`` in the alerting window from ``start``."""
        end = start + self.config.alerting.size
        total = 0
        for hour in range(_hour(start), end, HOUR):
            value = self.c.counts.get(f"{name}|{hour}")
            if value is not None:
                total += sum(value.minutes[max(0, (start - hour) // 60) : (end - hour) // 60])
        return total

    def _samples(self, name: str, start: int) -> list[list]:
        end = start + self.config.alerting.size
        kept = [self.c.samples.get(f"{name}|{hour}") for hour in range(_hour(start), end, HOUR)]
        return [s for value in kept if value for s in value.samples if start <= s[2] < end][:SAMPLES]

    def current_window(self, name: str, watermark: float) -> tuple[int, int, Baseline]:
        """(window start, count, baseline) of the stream's current alerting window for a key: for
        reading the state from outside, as docs/examples/spike_scenario.py (docs/spikes.md) does."""
        start = self.config.alerting.trailing(watermark)
        return start, self._window(name, start), self._baseline(name, start)

    def _seen_windows(self, start: int) -> int:
        """How many of the baseline windows before ``start`` the stream has seen (it began at ``clock.first``)."""
        size = self.config.alerting.size
        return min(self.config.baseline_windows, max(0, math.ceil((start - self.recent.clock.first) / size)))

    def _baseline(self, name: str, start: int) -> Baseline:
        cached = self.recent.baseline((name, start))
        if cached is None:
            size = self.config.alerting.size
            cached = baseline([self._window(name, start - j * size) for j in range(1, self._seen_windows(start) + 1)])
            self.recent.keep_baseline((name, start), cached)
        return cached

    def _check_spike(self, dims: dict[str, str], entry: dict, offset: int, out: Outputs) -> None:
        """Check the stream's current window (the hour up to the watermark), which an out-of-order
        post may still add to, for the keys this post touched."""
        name = key_of(dims)
        watermark = self.recent.clock.watermark
        start = self.config.alerting.trailing(watermark)
        observed = self._window(name, start)
        rule = self.config.spike
        fires = rule.can_fire(observed, self._seen_windows(start)) and rule.fires(observed, self._baseline(name, start))
        if not self._due(f"spike|{name}", fires, watermark, offset):
            return
        base = self._baseline(name, start)
        w = self.config.alerting
        samples = self._samples(name, start)
        out.alerts.append(
            Alert(
                id=f"spike|{name}|{start}",
                kind="spike",
                key=name,
                dimensions=dims,
                window_start=_iso(start),
                window_end=_iso(start + w.size),
                observed=observed,
                baseline_mean=round(base.mean, 4),
                baseline_std=round(base.std, 4),
                threshold=round(rule.threshold(base), 4),
                sample_post_ids=[s[0] for s in samples],
                samples=[s[1] for s in samples],
            )
        )

    def _due(self, key: str, fires: bool, now: float, offset: int) -> bool:
        """Whether this post raises the alert ``key``: the rule fires and the cooldown is over, or
        this very post raised it before the worker died."""
        stored = self.c.cooldowns.get(key)
        if stored is not None and stored.offset >= offset:
            return stored.offset == offset
        if not fires or not self.config.spike.cooled_down(stored.fired_at if stored else None, now):
            return False
        self.c.cooldowns[key] = Cooldown(now, offset)
        return True

    # --- feedback items ---------------------------------------------------------------------

    def _feedback(self, post: EnrichedPost, entry: PostEntry, offset: int, out: Outputs, vector) -> str | None:
        """The feedback item the post joins (None when it is no feedback), with every write for it."""
        vector = np.asarray(vector, dtype=np.float32) if vector is not None else None
        group = feedback.group_of(post, vector is not None)
        if group is None:
            return None
        feats = Counter(features(post.full_text))
        idle_since = entry.at - self.config.item_idle_s
        item_id = self._thread_item(post, group, idle_since)
        if item_id is None and vector is not None:
            threshold = self.config.item_vector_threshold
            item_id = feedback.pick(feats, self.recent.nearest(group, vector, post.language, idle_since, threshold))
        elif item_id is None:
            item_id = feedback.choose(feats, self.recent.open_items(group, idle_since), self.config.item_threshold)
        if item_id is None:
            item_id = feedback.ItemState.open(post, group).id  # the same id when the post comes again
        stored, applied = self._stamped(self.c.items, item_id, offset)
        item = feedback.ItemState(**stored.state) if stored else feedback.ItemState.open(post, group)
        if not applied:
            item.add(post, feats, entry.at, vector)
        self.watch.check_item(item, entry.at, offset, out)
        self.c.items[item_id] = Stamped(offset if not applied else stored.offset, vars(item))
        last_seen = datetime.fromisoformat(item.last_seen).timestamp()
        kept = recent.OpenItem.of(item.profile, last_seen, item.mean_vector(), item.languages)
        self.recent.keep_item(item.group, item_id, kept)
        self.watch.item_changed(item)
        out.post = out.post.model_copy(update={"item_id": item_id})
        out.items.append(self.watch.item_record(item))
        return item_id

    def _thread_item(self, post: EnrichedPost, group: str, idle_since: float) -> str | None:
        """The open item of the post this one replies to, in ``group``: a reply in a thread about a
        bug ("same here", a workaround, "1.0.7.1 fixed it") is about that bug, whatever its words."""
        parent = self.c.posts.get(post.parent_id) if post.parent_id else None
        if parent is None or parent.item is None:
            return None
        kept = self.recent.groups.get(group, {}).get(parent.item)
        return parent.item if kept is not None and kept.last_seen >= idle_since else None

    # --- cascades -------------------------------------------------------------------------

    def _cascade(self, post: EnrichedPost, entry: PostEntry, offset: int, out: Outputs) -> None:
        if not post.repost_of:
            return
        root = entry.root
        stored, applied = self._stamped(self.c.cascades, root, offset)
        if stored is None:
            root_entry = self.c.posts.get(root)
            state = CascadeState(
                root_id=root,
                root_author_id=root_entry.author if root_entry else None,
                first_seen=_iso(root_entry.at if root_entry else entry.at).isoformat(),
            )
        else:
            state = CascadeState(**stored.state)
        if not applied:
            state.add_repost(post, entry.depth)
        self.c.cascades[root] = Stamped(offset if not applied else stored.offset, vars(state))
        out.cascades.append(state.to_record())
        newest = datetime.fromisoformat(state.last_repost_at)
        if self._due(f"viral|{root}", state.velocity >= self.config.viral_velocity, entry.at, offset):
            out.alerts.append(
                Alert(
                    id=f"viral|{root}|{int(newest.timestamp())}",
                    kind="viral",
                    key=f"root={root}",
                    dimensions={"root": root},
                    window_start=newest - VELOCITY_WINDOW,
                    window_end=newest,
                    observed=state.velocity,
                    baseline_mean=0.0,
                    baseline_std=0.0,
                    threshold=self.config.viral_velocity,
                    sample_post_ids=[root],
                )
            )

    # --- expiry ---------------------------------------------------------------------------

    def expire(self, budget: int = 20_000, out: Outputs | None = None) -> int:
        """Forget what is older than the retention, in event time; returns entries removed.

        Each call reads at most ``budget`` entries, going on where the last call stopped, so
        one call costs the same however large the tables are, and a full pass takes
        (table size / budget) calls. An item that closes is added to ``out``, to be sent.
        """
        watermark = self.recent.clock.watermark
        if watermark is None:
            return 0
        horizon = watermark - self.config.retention_s
        closed = watermark - self.config.item_idle_s

        def hour_past(key: str, value) -> bool:  # "<key>|<hour start>"
            return int(key.rsplit("|", 1)[1]) + HOUR <= horizon

        rules = {
            "posts": lambda k, v: v.at < horizon,
            "counts": hour_past,
            "samples": hour_past,
            "cooldowns": lambda k, v: v.fired_at < horizon,
            "cascades": lambda k, v: (
                datetime.fromisoformat(v.state["last_repost_at"] or v.state["first_seen"]).timestamp() < horizon
            ),
            "items": lambda k, v: datetime.fromisoformat(v.state["last_seen"]).timestamp() < closed,
            **self.watch.expiry_rules(watermark),
        }
        removed = 0
        for name, old in rules.items():
            table = getattr(self.c, name)
            expired = [(k, v) for k, v in self._sweep(name, table, budget // len(rules)) if old(k, v)]
            for key, value in expired:
                del table[key]
                if name == "items" and out is not None:
                    out.items.append(self.watch.closed(key, value))
            removed += len(expired)
        return removed

    def _sweep(self, name: str, table: Table, n: int) -> list:
        """The next ``n`` entries of ``table``, cycling through it across calls."""
        if name not in self._sweeps:
            self._sweeps[name] = iter(table.items())
        try:
            batch = list(islice(self._sweeps[name], n))
        except RuntimeError:  # a dict changed size between calls (RocksDB iterators read a snapshot)
            batch = []
        if len(batch) < n:
            del self._sweeps[name]
        return batch
