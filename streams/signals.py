"""The stateful half of the stream: near-duplicates, windowed counts, spikes, feedback items
and cascades, for one enriched post at a time.

State lives in mappings that the Faust app backs with changelogged tables (plain dicts
in unit tests). All table writes for a post happen before anything is sent, and a post
id is recorded as counted in the same step, so a post redelivered after a crash or a
rebalance is recognised and never counted twice.

What a post makes is kept with its ``counted`` entry until :meth:`Signals.sent` says it
went out. A post redelivered before that (the worker died between the table writes and
the sends) is sent again from what was kept, and still not counted again.

Event time is ``created_at``, but never later than the post's ``fetched_at`` or
``enriched_at``: a source's clock or timezone gone wrong cannot run the stream's
watermark ahead and make every later post late.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from canyu.schema import Alert, Cascade, EnrichedPost, FeedbackItem
from streams import feedback
from streams.cascades import VELOCITY_WINDOW, CascadeState, place
from streams.simhash import bands, distance, features, simhash
from streams.spikes import Baseline, SpikeRule, baseline
from streams.windows import Windowing, hopping, tumbling

Table = MutableMapping[str, object]
SAMPLE_CHARS = 280


@dataclass(frozen=True)
class SignalConfig:
    live: Windowing = tumbling("1m", 60, grace=300)
    alerting: Windowing = hopping("1h", 3600, 300, grace=300)
    baseline_windows: int = 7 * 24  # trailing 7 days of 1-hour windows
    spike: SpikeRule = SpikeRule()
    near_dup_distance: int = 3
    near_dup_window_s: int = 24 * 3600
    near_dup_min_features: int = 4  # "+1" and "转发微博" are not evidence of copying
    item_threshold: float = 0.3
    item_idle_s: int = 14 * 24 * 3600  # an item with no new post for this long is closed
    viral_velocity: int = 10
    retention_s: int = 8 * 24 * 3600


@dataclass
class Tables:
    """Named state; the Faust app passes changelogged tables, tests pass dicts."""

    counted: Table = field(default_factory=dict)  # post id → [epoch, duplicate_of, fetched_at, unsent or None]
    bands: Table = field(default_factory=dict)  # simhash band → [[post id, fingerprint, epoch], ...]
    counts: Table = field(default_factory=dict)  # "1h|topic=battery|sentiment=negative|<start>" → posts
    samples: Table = field(default_factory=dict)  # alerting window key → [[post id, text], ...]
    clock: Table = field(default_factory=dict)  # "watermark", "first" → epoch; "late" → posts
    cooldowns: Table = field(default_factory=dict)  # alert key → epoch it last fired
    items: Table = field(default_factory=dict)  # item id → ItemState as dict
    groups: Table = field(default_factory=dict)  # item group → [item id, ...]
    positions: Table = field(default_factory=dict)  # post id → [root id, depth, author id, epoch]
    cascades: Table = field(default_factory=dict)  # root id → CascadeState as dict


Message = tuple[str, str, str]  # (topic, as agents.Topics names it: counts, items, cascades, alerts), key, value


@dataclass
class Outputs:
    post: EnrichedPost
    redelivery: bool = False  # the same fetch of a post again, all of it sent before: nothing to do at all
    late: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    items: list[FeedbackItem] = field(default_factory=list)
    cascades: list[Cascade] = field(default_factory=list)
    unsent: list[Message] = field(default_factory=list)  # kept from a first delivery whose sends never finished

    def messages(self) -> list[Message]:
        """What to send besides the post itself, in order: what a first delivery left unsent, then the new."""
        return [
            *self.unsent,
            *(("counts", key, str(count)) for key, count in self.counts.items()),
            *(("items", item.id, item.model_dump_json()) for item in self.items),
            *(("cascades", cascade.root_id, cascade.model_dump_json()) for cascade in self.cascades),
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


class Signals:
    def __init__(self, tables: Tables, config: SignalConfig = SignalConfig()):
        self.t = tables
        self.config = config

    def process(self, post: EnrichedPost) -> Outputs:
        """Every table write for ``post``; what to send is kept in ``counted`` until :meth:`sent`."""
        seen = self.t.counted.get(post.id)
        fetched = post.fetched_at.timestamp()
        if seen is not None:
            # A re-fetch is indexed again (its engagement may have changed) but never counted again;
            # what the first delivery never sent is sent now.
            unsent = seen[3] if len(seen) > 3 else None
            self.t.counted[post.id] = [seen[0], seen[1], max(seen[2], fetched), unsent]
            return Outputs(
                post.model_copy(update={"duplicate_of": seen[1]}),
                redelivery=fetched <= seen[2] and unsent is None,
                unsent=[self._current(*m) for m in unsent or []],
            )
        now = event_time(post)
        duplicate_of = self._near_duplicate(post, now)
        out = Outputs(post.model_copy(update={"duplicate_of": duplicate_of}))
        self._advance_clock(now)
        self._cascade(post, now, out)
        if duplicate_of is None:  # a near-duplicate is indexed but counted once, as its original
            self._count(post, now, out)
            self._feedback(post, now, out)
        self.t.counted[post.id] = [now, duplicate_of, fetched, [list(m) for m in out.messages()]]
        return out

    def _current(self, kind: str, key: str, value: str) -> Message:
        """A kept message, a count with the value it has now: a count sent late never goes back."""
        if kind == "counts" and key in self.t.counts:
            return kind, key, str(self.t.counts[key])
        return kind, key, value

    def sent(self, post_id: str) -> None:
        """Everything ``process`` made for the post is out: a redelivery now has nothing to send."""
        seen = self.t.counted.get(post_id)
        if seen is not None and len(seen) > 3 and seen[3] is not None:
            self.t.counted[post_id] = [*seen[:3], None]

    # --- near-duplicates ---------------------------------------------------------------

    def _near_duplicate(self, post: EnrichedPost, now: float) -> str | None:
        text = post.full_text
        if len(features(text)) < self.config.near_dup_min_features:
            return None
        fingerprint = simhash(text)
        horizon = now - self.config.near_dup_window_s
        best: tuple[float, str] | None = None
        for band in bands(fingerprint, self.config.near_dup_distance + 1):
            # Never the post itself: a worker that died mid-post may have kept its band entries
            # (tables change through separate changelogs) but not its ``counted`` entry.
            entries = [e for e in self.t.bands.get(band, []) if e[2] >= horizon and e[0] != post.id]
            for other_id, other_fp, other_at in entries:
                if distance(fingerprint, other_fp) <= self.config.near_dup_distance and other_at <= now:
                    best = min(best or (other_at, other_id), (other_at, other_id))
            self.t.bands[band] = [*entries, [post.id, fingerprint, now]]
        return best[1] if best else None

    # --- windowed counts and spikes ------------------------------------------------------

    def _advance_clock(self, now: float) -> None:
        self.t.clock["watermark"] = max(self.t.clock.get("watermark", now), now)
        self.t.clock["first"] = min(self.t.clock.get("first", now), now)

    def _count(self, post: EnrichedPost, now: float, out: Outputs) -> None:
        watermark = self.t.clock["watermark"]
        for windowing in (self.config.live, self.config.alerting):
            for start in windowing.starts(now):
                if windowing.is_late(start, watermark):
                    out.late = True
                    continue
                for dims in dimensions(post):
                    key = f"{windowing.name}|{key_of(dims)}|{start}"
                    out.counts[key] = self.t.counts[key] = self.t.counts.get(key, 0) + 1
                    if windowing is self.config.alerting:
                        self._keep_sample(key, post)
        if out.late:
            self.t.clock["late"] = self.t.clock.get("late", 0) + 1
        for dims in dimensions(post):
            self._check_spike(dims, watermark, out)

    def _keep_sample(self, key: str, post: EnrichedPost) -> None:
        kept = self.t.samples.get(key, [])
        if len(kept) < 5:
            self.t.samples[key] = [*kept, [post.id, post.full_text[:SAMPLE_CHARS]]]

    def current_window(self, name: str, watermark: float) -> tuple[int, int, Baseline]:
        """(window start, count, baseline) of the stream's current alerting window for a key."""
        w = self.config.alerting
        start = w.trailing(watermark)
        observed = self.t.counts.get(f"{w.name}|{name}|{start}", 0)
        first = self.t.clock["first"]
        history = [start - j * w.size for j in range(1, self.config.baseline_windows + 1)]
        history = [s for s in history if s + w.size > first]  # only windows the stream has seen
        return start, observed, baseline([self.t.counts.get(f"{w.name}|{name}|{s}", 0) for s in history])

    def _check_spike(self, dims: dict[str, str], watermark: float, out: Outputs) -> None:
        """Check the stream's current window (the hour up to the watermark), which an out-of-order
        post may still add to, for the keys this post touched."""
        name = key_of(dims)
        start, observed, base = self.current_window(name, watermark)
        rule = self.config.spike
        if not rule.fires(observed, base) or not rule.cooled_down(self.t.cooldowns.get(f"spike|{name}"), watermark):
            return
        self.t.cooldowns[f"spike|{name}"] = watermark
        w = self.config.alerting
        samples = self.t.samples.get(f"{w.name}|{name}|{start}", [])
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

    # --- feedback items ---------------------------------------------------------------------

    def _feedback(self, post: EnrichedPost, now: float, out: Outputs) -> None:
        group = feedback.group_of(post)
        if group is None:
            return
        idle_since = now - self.config.item_idle_s
        candidates = [feedback.ItemState(**self.t.items[i]) for i in self.t.groups.get(group, [])]
        candidates = [c for c in candidates if datetime.fromisoformat(c.last_seen).timestamp() >= idle_since]
        item, is_new = feedback.assign(post, candidates, self.config.item_threshold)
        self.t.items[item.id] = asdict(item)
        if is_new:
            self.t.groups[group] = [*self.t.groups.get(group, []), item.id]
        intent, product, topic = group.split("|")
        out.items.append(
            FeedbackItem(
                id=item.id,
                title=item.title[:SAMPLE_CHARS],
                intent=intent,
                product=None if product == "-" else product,
                topic=None if topic == "-" else topic,
                count=item.count,
                unique_authors=len(item.authors),
                first_seen=item.first_seen,
                last_seen=item.last_seen,
                trend=item.trend,
                sample_post_ids=[s[0] for s in item.samples],
            )
        )

    # --- cascades -------------------------------------------------------------------------

    def _cascade(self, post: EnrichedPost, now: float, out: Outputs) -> None:
        parent = self.t.positions.get(post.repost_of) if post.repost_of else None
        root, depth = place(post, (parent[0], parent[1]) if parent else None)
        self.t.positions[post.id] = [root, depth, post.author.id, now]
        if not post.repost_of:
            return
        stored = self.t.cascades.get(root)
        if stored is None:
            root_position = self.t.positions.get(root)
            state = CascadeState(
                root_id=root,
                root_author_id=root_position[2] if root_position else None,
                first_seen=_iso(root_position[3] if root_position else now).isoformat(),
            )
        else:
            state = CascadeState(**stored)
        state.add_repost(post, depth)
        self.t.cascades[root] = asdict(state)
        out.cascades.append(state.to_record())
        key = f"viral|{root}"
        if state.velocity >= self.config.viral_velocity and self.config.spike.cooled_down(
            self.t.cooldowns.get(key), now
        ):
            self.t.cooldowns[key] = now
            newest = datetime.fromisoformat(state.last_repost_at)
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

    def expire(self) -> int:
        """Forget what is older than the retention, measured in event time; returns entries removed."""
        watermark = self.t.clock.get("watermark")
        if watermark is None:
            return 0
        horizon = watermark - self.config.retention_s
        removed = 0
        for table, when in (
            (self.t.counted, lambda v: v[0]),
            (self.t.positions, lambda v: v[3]),
            (self.t.cooldowns, lambda v: v),
            (self.t.cascades, lambda v: datetime.fromisoformat(v["last_repost_at"] or v["first_seen"]).timestamp()),
        ):
            for key in [k for k, v in list(table.items()) if when(v) < horizon]:
                del table[key]
                removed += 1
        for table in (self.t.counts, self.t.samples):
            for key in [k for k in list(table.keys()) if int(k.rsplit("|", 1)[1]) < horizon]:
                del table[key]
                removed += 1
        dup_horizon = watermark - self.config.near_dup_window_s
        for band, entries in list(self.t.bands.items()):
            fresh = [e for e in entries if e[2] >= dup_horizon]
            if not fresh:
                del self.t.bands[band]
                removed += 1
            elif len(fresh) < len(entries):
                self.t.bands[band] = fresh
        return removed
