"""Typed records of the stateful step's release tables, and their compact encoding.

A table value is stored as a JSON list, the fields in the order declared here: compact in
RocksDB and on the changelog, and read back by position. Every record carries ``offset``,
the offset in ``posts.classified`` of the last record applied to it (the exactly-once stamp
of docs/streams.md).

Compatibility rule for stored state: fields are only ever appended, each with a default, so
a value written by an older worker decodes (its missing fields take their defaults); a field
is never removed, reordered or given another meaning. A change that cannot follow the rule
gets a new table name, which starts empty.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass


class Record:
    """A table value: ``encode`` writes the fields in order, ``decode`` reads them back."""

    __slots__ = ()

    def encode(self) -> list:
        return list(astuple(self))

    @classmethod
    def decode(cls, value: list | None):
        return None if value is None else cls(*value)


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
