"""What the stateful step keeps in memory only: indexes it rebuilds from its tables on start-up.

None of this is written to a changelog, so none of it costs a record per post. The stream's
clock, the near-duplicate bands, the open feedback items of each group and the centres their
sentence vectors are compared around are all functions of the ``posts`` and ``items``
tables, and :meth:`Recent.rebuild` derives them again after a restart or a rebalance.
Everything here is capped, so memory stays flat however long the stream runs.
"""

from __future__ import annotations

import base64
import math
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import mul

import numpy as np

from models import LanguageMeans
from streams.records import PostEntry, Stamped
from streams.simhash import bands


@dataclass
class Clock:
    """Event-time progress, per input: a partition of posts.raw.

    Each input has a high mark, the newest event time it brought. The watermark is the lowest
    mark of the inputs heard from within ``idle_s`` (of the worker's own clock), and it never goes
    back once every one of the ``expected`` inputs has been heard from (or ``idle_s`` has passed;
    until then no post is judged late): a partition caught up before the others makes no other
    partition's posts late, and one gone quiet does not hold the others back (Flink and Kafka
    Streams work this way). When every input has gone quiet, the watermark is the newest mark:
    the stream has what it will get for now (``refresh`` says so between posts). ``late`` counts
    posts that came after their alerting windows closed, and were counted all the same;
    ``too_old`` those older than the counts keep, which no count holds.
    """

    expected: int = 1
    idle_s: float = 60.0
    watermark: float | None = None
    first: float | None = None
    late: int = 0
    too_old: int = 0
    marks: dict[str, float] = field(default_factory=dict)  # input → its newest event time
    heard: dict[str, float] = field(default_factory=dict)  # input → when (monotonic) it last brought a post
    started: float | None = None
    now: Callable[[], float] = time.monotonic

    def advance(self, t: float, source: str = "-") -> None:
        settled = self.settled
        self.heard[source] = self.now()
        self.started = self.heard[source] if self.started is None else self.started
        self.marks[source] = max(t, self.marks.get(source, t))
        self._move(settled)
        self.first = t if self.first is None else min(self.first, t)

    @property
    def stale(self) -> bool:
        """Whether inputs went quiet since the last post, so that ``refresh`` would move the watermark."""
        return bool(self.marks) and self._next(self.settled) != self.watermark

    def refresh(self) -> bool:
        """Move the watermark past the inputs that went quiet since the last post; True if it moved."""
        if not self.stale:
            return False
        self._move(self.settled)
        return True

    def _move(self, settled: bool) -> None:
        self.watermark = self._next(settled)

    def _next(self, settled: bool) -> float:
        now = self.now()
        active = [self.marks[s] for s, at in self.heard.items() if now - at <= self.idle_s]
        low = min(active) if active else self.newest
        # Until every input has spoken, one that speaks late may still hold the watermark back.
        return max(self.watermark, low) if settled and self.watermark is not None else low

    @property
    def newest(self) -> float | None:
        """The newest event time seen on any input."""
        return max(self.marks.values(), default=None)

    @property
    def settled(self) -> bool:
        """Whether every input has spoken (or had the time to): only then can a post be late."""
        return len(self.marks) >= self.expected or (
            self.started is not None and self.now() - self.started > self.idle_s
        )


def dot(sparse: Mapping[str, float], other: Mapping[str, float]) -> float:
    """The dot product of two sparse vectors; ``sparse`` is the one walked, so pass the shorter."""
    # map() keeps the loop in C: the stateful step calls this for every open item of a feedback post.
    return sum(map(mul, sparse.values(), map(other.get, sparse.keys(), repeat(0.0))))


def norm(vector: Mapping[str, float]) -> float:
    return math.hypot(*vector.values())


def pack_vector(vector: Sequence[float]) -> bytes:
    """A sentence vector as half-precision bytes: 1 KB for 512 dimensions, precise to about 1e-3."""
    return np.asarray(vector, dtype="<f2").tobytes()


def unpack_vector(packed: bytes) -> np.ndarray:
    return np.frombuffer(packed, dtype="<f2").astype(np.float32)


def unit(vector: np.ndarray | None) -> np.ndarray | None:
    length = float(np.linalg.norm(vector)) if vector is not None else 0.0
    return vector / length if length else None


def cosine(sparse: Mapping[str, float], other: Mapping[str, float]) -> float:
    length = norm(sparse) * norm(other)
    return dot(sparse, other) / length if length else 0.0


@dataclass
class OpenItem:
    """The part of a feedback item that choosing an item for a post needs."""

    profile: dict[str, float]
    norm: float
    last_seen: float
    vector: np.ndarray | None = None  # the mean sentence vector of its posts (not centred, not unit)
    languages: Mapping[str, int] = field(default_factory=dict)  # its posts per language

    @classmethod
    def of(
        cls,
        profile: dict[str, float],
        last_seen: float,
        vector: np.ndarray | None = None,
        languages: Mapping[str, int] | None = None,
    ) -> OpenItem:
        return cls(profile, norm(profile), last_seen, vector, dict(languages or {}))

    def cosine(self, feats: dict[str, float], feats_norm: float) -> float:
        if not self.norm or not feats_norm:
            return 0.0
        return dot(feats, self.profile) / (self.norm * feats_norm)


@dataclass
class Centres:
    """The centre of each language's sentence vectors, which posts and items are compared around.

    The vectors of one language share a direction whatever they say, and so do the vectors of
    one product's feedback: compared as they are, a Chinese and a Korean report of one bug
    are less alike than two Chinese reports of two bugs. Compared after each language's centre
    is taken away, they are not (docs/streams.md, "Grouping across languages").

    A language's centre starts at the encoder's mean over training text
    (``models.load_language_means``), worth ``weight`` posts, and moves towards the mean of
    the feedback that the open items hold in that language: each item counts its mean vector
    once for each of its posts in the language. So the centres are a function of the open
    items, kept up to date as they change and rebuilt with them.
    """

    prior: LanguageMeans
    weight: float
    sums: np.ndarray = field(init=False)  # (languages, dim): the open items' mean vectors, times their posts in each
    posts: np.ndarray = field(init=False)  # (languages,): the open items' posts in each
    _centres: np.ndarray | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.sums = np.zeros(self.prior.means.shape, dtype=np.float64)
        self.posts = np.zeros(len(self.prior.languages), dtype=np.float64)

    def row(self, language: str) -> int:
        return self.prior.row(language)

    def tally(self, languages: Mapping[str, int]) -> np.ndarray:
        """Posts per row of the centres (every language without a row of its own in the last)."""
        counts = np.zeros(len(self.prior.languages), dtype=np.float64)
        for language, n in languages.items():
            counts[self.row(language)] += n
        return counts

    def add(self, vector: np.ndarray, counts: np.ndarray, sign: int = 1) -> None:
        """An item's mean ``vector`` and its posts per row come (``sign`` 1) or go (-1)."""
        self.sums += sign * np.outer(counts, vector)
        self.posts += sign * counts
        self._centres = None

    def centres(self) -> np.ndarray:
        """(languages, dim): each language's centre now."""
        if self._centres is None:
            w = self.weight
            self._centres = ((w * self.prior.means + self.sums) / (w + self.posts)[:, None]).astype(np.float32)
        return self._centres


class VectorItems:
    """A group's open items that have a sentence vector, as rows of arrays, so that one matrix
    product compares a post with all of them (a loop over items in Python would cost more than
    the rest of the post as the group grows)."""

    def __init__(self, capacity: int, dim: int, languages: int):
        self.ids: list[str] = []  # row → item id
        self.rows: dict[str, int] = {}
        self.vectors = np.zeros((capacity, dim), dtype=np.float32)  # each item's mean vector
        self.shares = np.zeros((capacity, languages), dtype=np.float32)  # its posts' shares per row of the centres
        self.squares = np.zeros(capacity, dtype=np.float32)  # |vector|²
        self.last_seen = np.zeros(capacity, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.ids)

    def put(self, item_id: str, vector: np.ndarray, counts: np.ndarray, last_seen: float) -> None:
        row = self.rows.get(item_id)
        if row is None:
            row = self.rows[item_id] = len(self.ids)
            self.ids.append(item_id)
        self.vectors[row] = vector
        self.shares[row] = counts / counts.sum() if counts.sum() else 0
        self.squares[row] = float(vector @ vector)
        self.last_seen[row] = last_seen

    def remove(self, item_id: str) -> None:
        """The last row takes the removed one's place, so that the rows in use stay the first ones."""
        row, last = self.rows.pop(item_id), len(self.ids) - 1
        moved = self.ids.pop()
        if row != last:
            self.ids[row], self.rows[moved] = moved, row
            for column in (self.vectors, self.shares, self.squares, self.last_seen):
                column[row] = column[last]

    def similarities(self, post: np.ndarray, centres: np.ndarray) -> np.ndarray:
        """Cosines between ``post`` (already centred, unit) and each item's vector once centred:
        ``vector - shares @ centres``, worked out without making that (rows, dim) matrix."""
        n = len(self.ids)
        vectors, shares = self.vectors[:n], self.shares[:n]
        products = vectors @ np.column_stack([post, centres.T])  # (rows, 1 + languages): one product
        dots = products[:, 0] - shares @ (centres @ post)
        squares = (
            self.squares[:n]
            - 2 * np.einsum("ij,ij->i", shares, products[:, 1:])
            + np.einsum("ij,ij->i", shares @ (centres @ centres.T), shares)
        )
        return dots / np.sqrt(np.maximum(squares, 1e-12))


class Generation:
    """The posts filed in one generation, numbered in filing order: their fingerprints, times
    and originals in columns, and each band's numbers.

    Columns, not an entry object per post and a list per band: a generation is dropped whole,
    and each object in it is one more to free then, and one more cache miss to reach while it
    lives (docs/performance.md). A band that holds one post (most do) maps to its number
    itself; one that holds more maps to a tuple of them, oldest first.
    """

    __slots__ = ("fingerprints", "times", "originals", "bands")

    def __init__(self) -> None:
        self.fingerprints = array("Q")
        self.times = array("d")
        self.originals: list[str] = []
        self.bands: dict[int, int | tuple[int, ...]] = {}

    def __len__(self) -> int:
        return len(self.originals)

    def add(self, original_id: str, fp: int, at: float, band_count: int, per_band: int) -> None:
        number = len(self.originals)
        self.fingerprints.append(fp)
        self.times.append(at)
        self.originals.append(original_id)
        for band in bands(fp, band_count):
            filed = self.bands.get(band)
            if filed is None:
                self.bands[band] = number
            elif filed.__class__ is int:
                self.bands[band] = (filed, number)
            else:
                self.bands[band] = (*filed, number)[-per_band:]


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
    young: Generation = field(default_factory=Generation)
    old: Generation = field(default_factory=Generation)

    def find(self, post_id: str, fp: int, now: float, max_distance: int, horizon: float) -> str | None:
        """The original of the earliest post within ``max_distance`` bits, seen since ``horizon``
        and not after ``now``."""
        best: tuple[float, str] | None = None
        for band in bands(fp, self.band_count):
            # A band's posts are in arrival order, the old generation's first: stop at its first match.
            for generation in (self.old, self.young):
                filed = generation.bands.get(band, ())
                # Inline, not a call to simhash.distance: a call costs more than the rest of this loop.
                for number in (filed,) if filed.__class__ is int else filed:
                    if (fp ^ generation.fingerprints[number]).bit_count() > max_distance:
                        continue
                    match = generation.times[number], generation.originals[number]
                    if horizon <= match[0] <= now and match[1] != post_id:
                        best = match if best is None else min(best, match)
                        break
                else:
                    continue
                break
        return best[1] if best else None

    def add(self, original_id: str, fp: int, at: float) -> None:
        """File a post's fingerprint under its original's id (its own, when it is one)."""
        if len(self.young) >= self.capacity // 2:
            self.old, self.young = self.young, Generation()
        self.young.add(original_id, fp, at, self.band_count, self.per_band)


@dataclass
class Recent:
    clock: Clock
    near_duplicates: NearDuplicates
    groups: dict[str, OrderedDict[str, OpenItem]]  # item group → open items, least recently joined first
    items_per_group: int  # in a group of items without a sentence vector
    centres: Centres
    vector_items: int = 256  # in a group of items with a sentence vector
    vectors: dict[str, VectorItems] = field(default_factory=dict)  # item group → its items with a vector
    baselines: OrderedDict = field(default_factory=OrderedDict)  # (key, window start) → Baseline
    baselines_cap: int = 10_000
    # product or software line → the items that concern it (as many as the items table holds)
    items_by_product: dict[str, set[str]] = field(default_factory=dict)

    def open_items(self, group: str, idle_since: float) -> list[tuple[str, OpenItem]]:
        items = self.groups.get(group, {})
        return [(i, item) for i, item in items.items() if item.last_seen >= idle_since]

    def nearest(
        self, group: str, vector: np.ndarray, language: str, idle_since: float, threshold: float
    ) -> list[tuple[float, str, OpenItem]]:
        """The group's open items whose vector is at least ``threshold`` close to the post's
        ``vector`` (in ``language``), both taken around their language's centre: (cosine, id, item)."""
        index = self.vectors.get(group)
        if not index:
            return []
        centres = self.centres.centres()
        post = unit(vector - centres[self.centres.row(language)])
        if post is None:
            return []
        similarities = index.similarities(post, centres)
        rows = np.flatnonzero((similarities >= threshold) & (index.last_seen[: len(index)] >= idle_since))
        items = self.groups[group]
        return [(float(similarities[r]), index.ids[r], items[index.ids[r]]) for r in rows]

    def keep_item(self, group: str, item_id: str, item: OpenItem) -> None:
        """The item just joined; past the cap, the group's least recently joined item closes."""
        items = self.groups.setdefault(group, OrderedDict())
        self._unindex(group, item_id, items.get(item_id))
        items[item_id] = item
        items.move_to_end(item_id)
        if item.vector is not None:
            if group not in self.vectors:
                self.vectors[group] = VectorItems(self.vector_items + 1, item.vector.shape[0], len(self.centres.posts))
            counts = self.centres.tally(item.languages)
            self.vectors[group].put(item_id, item.vector, counts, item.last_seen)
            self.centres.add(item.vector, counts)
        cap = self.vector_items if group in self.vectors else self.items_per_group
        while len(items) > cap:
            closed_id, closed = items.popitem(last=False)
            self._unindex(group, closed_id, closed)

    def _unindex(self, group: str, item_id: str, item: OpenItem | None) -> None:
        """What ``item`` (as it was kept) added to the group's vectors and the centres goes."""
        if item is not None and item.vector is not None:
            self.vectors[group].remove(item_id)
            self.centres.add(item.vector, self.centres.tally(item.languages), sign=-1)

    def forget_item(self, item_id: str) -> None:
        """The item is gone from the table (it closed)."""
        for items in self.items_by_product.values():
            items.discard(item_id)

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
    posts: Iterable[tuple[str, PostEntry]],
    items: Iterable[tuple[str, Stamped]],
    *,
    band_count: int,
    near_dup_capacity: int,
    items_per_group: int,
    centres: Centres,
    vector_items: int = 256,
    inputs: int = 1,
    idle_s: float = 60.0,
) -> Recent:
    """The in-memory indexes again, from the tables (``posts`` and ``items`` iterated once each);
    ``centres`` as they start, before any item."""
    clock = Clock(expected=inputs, idle_s=idle_s)
    with_fingerprints = []
    for post_id, entry in posts:
        clock.advance(entry.at, entry.input)
        clock.late += entry.late
        clock.too_old += entry.too_old
        if entry.fingerprint is not None:
            with_fingerprints.append((entry.offset, entry.duplicate_of or post_id, entry.fingerprint, entry.at))
    near = NearDuplicates(band_count, near_dup_capacity)
    for _, original_id, fp, at in sorted(with_fingerprints)[-near_dup_capacity:]:  # in stream order
        near.add(original_id, fp, at)
    recent = Recent(clock, near, {}, items_per_group, centres, vector_items)
    open_items = [(datetime.fromisoformat(s.state["last_seen"]).timestamp(), i, s.state) for i, s in items]
    for last_seen, item_id, item in sorted(open_items, key=lambda entry: entry[0]):
        vector = unpack_vector(base64.b64decode(item["vector"])) if item.get("vector") else None
        open_item = OpenItem.of(item["profile"], last_seen, vector, item.get("languages"))
        recent.keep_item(item["group"], item_id, open_item)
        # A group of items without vectors is (intent, product, topic); one with vectors is not.
        labels = item["group"].split("|")
        product = labels[1] if len(labels) == 3 else "-"
        for named in {*item.get("products", ()), *([product] if product != "-" else [])}:
            recent.items_by_product.setdefault(named, set()).add(item_id)
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

    ``record`` (a ``streams.records`` type) is what the table's values are: each is decoded once,
    when first read, and encoded on every write.
    """

    def __init__(self, table: MutableMapping, cap: int, record=None):
        self.table = table
        self.cap = cap
        self.record = record
        self.young: dict = {}
        self.old: dict = {}

    def get(self, key, default=None):
        value = self.young.get(key, UNSEEN)
        if value is UNSEEN:
            value = self.old.get(key, UNSEEN)
            if value is UNSEEN:
                # An absent key is kept too: most keys asked for are new, and RocksDB looks deep for them.
                value = self.table.get(key, ABSENT)
                if value is not ABSENT and self.record is not None:
                    value = self.record.decode(value)
            self._keep(key, value)
        return default if value is ABSENT else value

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value) -> None:
        self.table[key] = value.encode() if self.record is not None else value
        self._keep(key, value)

    def __delitem__(self, key) -> None:
        del self.table[key]
        self._keep(key, ABSENT)

    def __iter__(self):
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def items(self):
        """Every entry of the table, decoded (read from the table, not the cache: a sweep's view)."""
        if self.record is None:
            return self.table.items()
        return ((key, self.record.decode(value)) for key, value in self.table.items())

    def _keep(self, key, value) -> None:
        self.young[key] = value  # shadows whatever the old generation holds for it
        if len(self.young) >= self.cap // 2:
            self.old, self.young = self.young, {}
