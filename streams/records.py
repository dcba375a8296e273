"""The records the stateful step's tables store, one type per table, and their compact encoding.

| table | key | record |
|---|---|---|
| ``posts`` | post id | :class:`PostEntry` |
| ``counts`` | ``"<key>|<hour start>"`` | :class:`HourCounts` |
| ``samples`` | the same key | :class:`HourSamples` |
| ``items`` | feedback item id | :class:`Stamped` of ``streams.feedback.ItemState``'s fields |
| ``cascades`` | root post id | :class:`Stamped` of ``streams.cascades.CascadeState``'s fields |
| ``cooldowns`` | alert key | :class:`Cooldown` |
| ``product_days`` | ``"<product>|<day>"`` | :class:`ProductDay` |
| ``sightings`` | ``"<product or line>|<version>"`` | :class:`Sighting` |

A value is stored as a JSON list of its fields in the order declared here: compact in RocksDB
and on the changelog, and read back by position. Every record carries ``offset``, the offset
in ``posts.classified`` of the last record applied to it (the exactly-once stamp of
docs/streams.md). ``streams.recent.Cached`` decodes a value once, when it is first read, and
encodes it on every write.

Compatibility rule for stored state: fields are only ever appended, each with a default, so a
value written by an older worker decodes (its missing fields take their defaults); a field is
never removed, reordered or given another meaning. A change that cannot follow the rule gets a
new table name, which starts empty. The values written before these records existed (dicts
with short keys such as ``"o"`` and ``"t"``) are read through each record's ``LEGACY`` map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


class Record:
    """A table value: ``encode`` writes the fields in order, ``decode`` reads them back."""

    __slots__ = ()
    LEGACY: ClassVar[dict[str, str]] = {}  # short key of the dict layout before these records → field

    def encode(self) -> list:
        return [getattr(self, name) for name in self.__slots__]

    @classmethod
    def decode(cls, value: list | dict | None):
        if value is None:
            return None
        if isinstance(value, dict):
            return cls(**{cls.LEGACY[k]: v for k, v in value.items() if k in cls.LEGACY})
        return cls(*value)


@dataclass(frozen=True, slots=True)
class PostEntry(Record):
    """What was decided about a post the first time it was read, and what is still to send for it."""

    offset: int
    at: float  # its event time
    fetched: float  # its fetched_at, epoch seconds: a newer fetch is indexed again, never counted again
    duplicate_of: str | None
    fingerprint: int | None
    root: str  # of its repost cascade (itself when it reposts nothing)
    depth: int
    author: str
    late: bool = False  # it came after its alerting windows closed, and was counted all the same
    too_old: bool = False  # older than the counts keep: counted nowhere
    input: str = "-"  # the partition of posts.raw it came in on
    item: str | None = None  # the feedback item it joined
    alerts: list[str] = field(default_factory=list)  # its alerts (JSON) not yet in Kafka

    LEGACY: ClassVar[dict[str, str]] = {
        "o": "offset", "t": "at", "f": "fetched", "d": "duplicate_of", "fp": "fingerprint", "r": "root",
        "dp": "depth", "a": "author", "late": "late", "old": "too_old", "in": "input", "item": "item",
        "al": "alerts",
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class HourCounts(Record):
    """A key's posts in each of an hour's 60 minutes."""

    offset: int
    minutes: list[int]

    LEGACY: ClassVar[dict[str, str]] = {"o": "offset", "m": "minutes"}


@dataclass(frozen=True, slots=True)
class HourSamples(Record):
    """The first posts of a key's hour, for the alert to show: [post id, text, minute start]."""

    offset: int
    samples: list[list]

    LEGACY: ClassVar[dict[str, str]] = {"o": "offset", "s": "samples"}


@dataclass(frozen=True, slots=True)
class Cooldown(Record):
    """When an alert key last fired (a regression's: the end of its release's window), and the
    offset of the record that fired it."""

    fired_at: float
    offset: int

    @classmethod
    def decode(cls, value: list | None):
        return None if value is None else cls(*value)  # the layout before was already [fired_at, offset]


@dataclass(frozen=True, slots=True)
class Stamped(Record):
    """A mutable state (a feedback item's, a cascade's) as its named fields, with its offset stamp."""

    offset: int
    state: dict

    @classmethod
    def decode(cls, value: list | dict | None):
        if isinstance(value, dict):  # before: the state's fields, and "o"
            return cls(value["o"], {k: v for k, v in value.items() if k != "o"})
        return super(Stamped, cls).decode(value)


@dataclass(frozen=True, slots=True)
class ProductDay(Record):
    """A product's (or software line's) posts on one UTC day, and how many were negative.

    Key: ``"<product>|<day>"``, the day as days since the epoch. The release impact's
    sentiment before and after reads them."""

    offset: int
    negative: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class Sighting(Record):
    """A version named in posts, on its way to being a release seen in posts.

    Key: the release key it would have (``"<product or line>|<version>"``). ``authors`` are the
    distinct authors that named it within the last day, with when (at most the number needed);
    ``seen`` is the event time it became a release (None before)."""

    offset: int
    first_seen: float
    authors: tuple[tuple[str, float], ...] = ()
    seen: float | None = None

    def encode(self) -> list:
        return [self.offset, self.first_seen, [list(a) for a in self.authors], self.seen]

    @classmethod
    def decode(cls, value: list | None) -> Sighting | None:
        if value is None:
            return None
        offset, first_seen, authors, *rest = value
        return cls(offset, first_seen, tuple((a, t) for a, t in authors), *rest)
