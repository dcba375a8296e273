"""What the stateful step keeps in memory only: indexes it rebuilds from its tables on start-up.

None of this is written to a changelog, so none of it costs a record per post. The stream's
clock, the near-duplicate bands and the open feedback items of each group are all functions
of the ``posts`` and ``items`` tables, and :meth:`Recent.rebuild` derives them again after a
restart or a rebalance. Everything here is capped, so memory stays flat however long the
stream runs.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, repeat
from operator import mul

from streams.simhash import bands, distance


@dataclass
class Clock:
    """Event-time progress: the newest and oldest event time seen, and posts too late to count."""

    watermark: float | None = None
    first: float | None = None
    late: int = 0

    def advance(self, t: float) -> None:
        self.watermark = t if self.watermark is None else max(self.watermark, t)
        self.first = t if self.first is None else min(self.first, t)


def dot(sparse: Mapping[str, float], other: Mapping[str, float]) -> float:
    """The dot product of two sparse vectors; ``sparse`` is the one walked, so pass the shorter."""
    # map() keeps the loop in C: the stateful step calls this for every open item of a feedback post.
    return sum(map(mul, sparse.values(), map(other.get, sparse.keys(), repeat(0.0))))


def norm(vector: Mapping[str, float]) -> float:
    return math.hypot(*vector.values())


def cosine(sparse: Mapping[str, float], other: Mapping[str, float]) -> float:
    length = norm(sparse) * norm(other)
    return dot(sparse, other) / length if length else 0.0


@dataclass
class OpenItem:
    """The part of a feedback item that choosing an item for a post needs."""

    profile: dict[str, float]
    norm: float
    last_seen: float

    @classmethod
    def of(cls, profile: dict[str, float], last_seen: float) -> OpenItem:
        return cls(profile, norm(profile), last_seen)

    def cosine(self, feats: dict[str, float], feats_norm: float) -> float:
        if not self.norm or not feats_norm:
            return 0.0
        return dot(feats, self.profile) / (self.norm * feats_norm)


@dataclass
class NearDuplicates:
    """Fingerprints of recent posts, by band, in two generations of up to ``capacity / 2`` posts:
    posts are filed in the young one, and when it is full the old one is dropped whole and the
    young one takes its place. So the newest ``capacity / 2`` to ``capacity`` posts are kept, and
    forgetting costs nothing per post (one post at a time, it made every post with full state
    dearer than on empty state, docs/performance.md).

    A band also keeps only its ``per_band`` most recent posts of a generation, so that a lookup
    costs the same however full the index is: the posts that crowd a band are mostly copies of
    one text, and each is filed under its original's id, so the newest copies still lead to the
    original.
    """

    band_count: int
    capacity: int
    per_band: int = 8
    # band → [(original id, fingerprint, event time)]: lists, because most bands hold one post,
    # and sys.getsizeof gives 760 bytes for a deque(maxlen=8) and 64 for a list of one.
    young: dict[int, list] = field(default_factory=dict)
    old: dict[int, list] = field(default_factory=dict)
    filed: int = 0  # posts in the young generation

    def find(self, post_id: str, fp: int, now: float, max_distance: int, horizon: float) -> str | None:
        """The original of the earliest post within ``max_distance`` bits, seen since ``horizon``
        and not after ``now``."""
        best: tuple[float, str] | None = None
        for band in bands(fp, self.band_count):
            # A band's entries are in arrival order, the old generation's first: stop at the first match.
            for other_id, other_fp, other_at in chain(self.old.get(band, ()), self.young.get(band, ())):
                if distance(fp, other_fp) <= max_distance and horizon <= other_at <= now and other_id != post_id:
                    best = min(best or (other_at, other_id), (other_at, other_id))
                    break
        return best[1] if best else None

    def add(self, original_id: str, fp: int, at: float) -> None:
        """File a post's fingerprint under its original's id (its own, when it is one)."""
        if self.filed >= self.capacity // 2:
            self.old, self.young, self.filed = self.young, {}, 0
        entry = (original_id, fp, at)
        for band in bands(fp, self.band_count):
            entries = self.young.get(band)
            if entries is None:
                self.young[band] = [entry]
                continue
            entries.append(entry)
            if len(entries) > self.per_band:
                del entries[0]
        self.filed += 1


@dataclass
class Recent:
    clock: Clock
    near_duplicates: NearDuplicates
    groups: dict[str, OrderedDict[str, OpenItem]]  # item group → open items, least recently joined first
    items_per_group: int
    baselines: OrderedDict = field(default_factory=OrderedDict)  # (key, window start) → Baseline
    baselines_cap: int = 10_000

    def open_items(self, group: str, idle_since: float) -> list[tuple[str, OpenItem]]:
        items = self.groups.get(group, {})
        return [(i, item) for i, item in items.items() if item.last_seen >= idle_since]

    def keep_item(self, group: str, item_id: str, item: OpenItem) -> None:
        """The item just joined; past the cap, the group's least recently joined item closes."""
        items = self.groups.setdefault(group, OrderedDict())
        items[item_id] = item
        items.move_to_end(item_id)
        while len(items) > self.items_per_group:
            items.popitem(last=False)

    def baseline(self, key: tuple[str, int]):
        found = self.baselines.get(key)
        if found is not None:
            self.baselines.move_to_end(key)
        return found

    def keep_baseline(self, key: tuple[str, int], value) -> None:
        self.baselines[key] = value
        while len(self.baselines) > self.baselines_cap:
            self.baselines.popitem(last=False)

    def forget_baselines(self, name: str) -> None:
        """A post landed in a window that a cached baseline summed: those baselines are stale."""
        for key in [k for k in self.baselines if k[0] == name]:
            del self.baselines[key]


def rebuild(
    posts: Iterable[tuple[str, dict]],
    items: Iterable[tuple[str, dict]],
    *,
    band_count: int,
    near_dup_capacity: int,
    items_per_group: int,
) -> Recent:
    """The in-memory indexes again, from the tables (``posts`` and ``items`` iterated once each)."""
    clock = Clock()
    with_fingerprints = []
    for post_id, entry in posts:
        clock.advance(entry["t"])
        clock.late += bool(entry.get("late"))
        if entry.get("fp") is not None:
            with_fingerprints.append((entry["o"], entry["d"] or post_id, entry["fp"], entry["t"]))
    near = NearDuplicates(band_count, near_dup_capacity)
    for _, original_id, fp, at in sorted(with_fingerprints)[-near_dup_capacity:]:  # in stream order
        near.add(original_id, fp, at)
    recent = Recent(clock, near, {}, items_per_group)
    open_items = [(datetime.fromisoformat(item["last_seen"]).timestamp(), i, item) for i, item in items]
    for last_seen, item_id, item in sorted(open_items, key=lambda entry: entry[0]):
        recent.keep_item(item["group"], item_id, OpenItem.of(item["profile"], last_seen))
    return recent


ABSENT = object()  # kept for a key the table does not have
UNSEEN = object()  # not kept


class Cached(MutableMapping):
    """A table whose recently used values (and absences) are kept decoded; every write goes through.

    Like :class:`NearDuplicates`, it keeps two generations of up to ``cap / 2`` keys and drops
    the old one whole when the young one is full, so a read or a write costs two dict lookups
    at most, however full the cache (an LRU's reordering and one eviction per new key made a
    post with full state dearer than one on empty state, docs/performance.md).

    Only the stateful step writes its tables, and it forgets its caches whenever the tables
    may have changed under it (a rebalance, a failed post), so the copy here is never stale.
    """

    def __init__(self, table: MutableMapping, cap: int):
        self.table = table
        self.cap = cap
        self.young: dict = {}
        self.old: dict = {}

    def get(self, key, default=None):
        value = self.young.get(key, UNSEEN)
        if value is UNSEEN:
            value = self.old.get(key, UNSEEN)
            if value is UNSEEN:
                # An absent key is kept too: most keys asked for are new, and RocksDB looks deep for them.
                value = self.table.get(key, ABSENT)
            self._keep(key, value)
        return default if value is ABSENT else value

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value) -> None:
        self.table[key] = value
        self._keep(key, value)

    def __delitem__(self, key) -> None:
        del self.table[key]
        self._keep(key, ABSENT)

    def __iter__(self):
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def items(self):
        return self.table.items()

    def _keep(self, key, value) -> None:
        self.young[key] = value  # shadows whatever the old generation holds for it
        if len(self.young) >= self.cap // 2:
            self.old, self.young = self.young, {}
