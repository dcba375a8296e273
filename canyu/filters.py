"""Which posts to read: the one set of filters of ``canyu search``, ``canyu export`` and the dashboard.

Pure: it builds Elasticsearch query clauses and aggregations as dicts, reads the counts
in the answers, and sends nothing. Users name fields the short way (``topic``, ``lang``);
``FIELDS`` maps those names to the indexed fields once, for filters and counts alike
(``count_by``, ``counts``), and ``POST_TIME`` names the posts' time. ``version`` is the
one that needs parsing: a bare version filters ``versions.version``, a line and a version
``versions.tag`` (``version_clause``).

A time is relative (``30m``, ``12h``, ``7d``, ``2w`` before now) or an absolute, zoned
datetime. Relative times go to Elasticsearch as date math (``now-7d``) rather than being
turned into datetimes here, so "now" is always the cluster's clock: the same one the
live feed's window and the indexed timestamps are read by, and the same for a search
typed in a terminal as for a dashboard address opened a week after it was shared.
``parse_time`` turns one into a datetime where Python needs it (the retention cut-off).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from canyu.schema import INTENT_LABELS, SENTIMENT_LABELS
from canyu.versions import SOFTWARE_LINES, parse_version, version_key

RELATIVE = r"^[1-9][0-9]{0,3}[mhdw]$"
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}  # the same units in Elasticsearch's date math

FIELDS = {
    "source": "source",
    "lang": "language",
    "topic": "topics.id",
    "intent": "intent.label",
    "product": "products",
    "sentiment": "sentiment.label",
    "author": "author.id",
    "version": "versions.tag",  # counted by line and version; filtered by version_clause
    "item": "item_id",
}
POST_TIME = "created_at"  # when a post was written: what the time filters bound and the charts count by
LABELS = {"sentiment": SENTIMENT_LABELS, "intent": INTENT_LABELS}
UNSURE = "unsure"  # what a label below ``Filters.min_confidence`` is shown as
# Feedback items carry a topic and a product of their own; the other filters do not apply to them.
FEEDBACK_FIELDS = {"topic": "topic", "product": "product"}

Time = str | datetime  # a relative time as typed ("7d"), or an aware datetime


def read_time(value: str) -> Time:
    """What a person types: a relative time (kept as such) or an ISO date/datetime, UTC if it names no zone."""
    value = value.strip()
    if re.match(RELATIVE, value):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r}: use e.g. 7d, 12h, 30m, 2w or an ISO date like 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def resolve(at: Time, now: datetime) -> datetime:
    if isinstance(at, datetime):
        return at
    return now - timedelta(**{_UNITS[at[-1]]: int(at[:-1])})


def parse_time(value: str, now: datetime | None = None) -> datetime:
    """``30m``, ``12h``, ``7d``, ``2w`` before now, or an ISO date/datetime (UTC if no zone)."""
    return resolve(read_time(value), now or datetime.now(timezone.utc))


def in_utc(at: datetime) -> datetime:
    """``at`` in UTC; ValueError for a time that has none, as 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00."""
    try:
        return at.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{at.isoformat()} is out of range: before year 1 or after year 9999 in UTC") from None


def _bound(at: Time) -> str:
    # In UTC: Elasticsearch takes offsets up to ±18:00 only, Python any under a day.
    return f"now-{at}" if isinstance(at, str) else in_utc(at).isoformat()


@dataclass(frozen=True)
class Filters:
    """Each list keeps posts with any of its values; different fields must all match.

    A ``version`` is a bare version, matching posts that name it on any line, or a line and a version,
    matching that pair only (``version_terms``); one that does not parse is refused here.

    ``since`` and ``until`` bound the time both inclusively. With ``min_confidence``, a label whose
    confidence is below it counts as ``unsure`` (``UNSURE``): the sentiment and intent filters match
    only labels at least that confident, and the displays (search, dashboard) show the others as unsure.
    """

    source: list[str] = field(default_factory=list)
    lang: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    intent: list[str] = field(default_factory=list)
    product: list[str] = field(default_factory=list)
    sentiment: list[str] = field(default_factory=list)
    author: list[str] = field(default_factory=list)
    version: list[str] = field(default_factory=list)
    item: list[str] = field(default_factory=list)
    since: Time | None = None
    until: Time | None = None
    min_confidence: float | None = None

    def __post_init__(self) -> None:
        if self.min_confidence is not None and not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"--min-confidence {self.min_confidence}: choose a probability from 0 to 1")
        for name, allowed in LABELS.items():
            wrong = [v for v in getattr(self, name) if v not in allowed]
            if wrong:
                raise ValueError(f"--{name} {', '.join(wrong)}: choose from {', '.join(allowed)}")
        for value in self.version:
            version_terms(value)  # a value that does not parse is refused now, with its sentence
        for at in (self.since, self.until):
            if isinstance(at, str) and not re.match(RELATIVE, at):
                raise ValueError(f"{at!r} is not a relative time like 7d, 12h, 30m or 2w")
            if isinstance(at, datetime) and at.tzinfo is None:
                raise ValueError(f"{at.isoformat()} names no time zone")
            if isinstance(at, datetime):
                in_utc(at)
        # Refused only when the window is empty whatever the clock says: both bounds absolute, or both
        # relative. A relative since and an absolute until depend on when the query runs, and match nothing.
        if self.since and self.until and type(self.since) is type(self.until):
            now = datetime.now(timezone.utc)
            if resolve(self.since, now) >= resolve(self.until, now):
                raise ValueError(f"--since {_shown(self.since)} is not before --until {_shown(self.until)}")

    def _clauses(self, fields: dict[str, str], time_field: str) -> list[dict]:
        clauses: list[dict] = [
            version_clause(values) if name == "version" else {"terms": {fields[name]: values}}
            for name in fields
            if (values := getattr(self, name))
        ]
        if self.min_confidence is not None:
            # A label filter matches only labels confident enough; posts indexed without a confidence never are.
            clauses += [self.confident(name) for name in LABELS if name in fields and getattr(self, name)]
        window = {op: _bound(at) for op, at in (("gte", self.since), ("lte", self.until)) if at}
        return clauses + ([{"range": {time_field: window}}] if window else [])

    def confident(self, label: str) -> dict:
        """The clause "this post's ``sentiment`` (or ``intent``) label is at least ``min_confidence`` likely"."""
        return {"range": {f"{label}.confidence": {"gte": self.min_confidence or 0.0}}}

    def label_agg(self, label: str, size: int) -> dict:
        """Counts by ``sentiment`` or ``intent`` label; with ``min_confidence``, labels below it count as unsure.

        Read the response with ``counts``.
        """
        terms = count_by(label, size)
        if self.min_confidence is None:
            return terms
        sure = self.confident(label)
        return {
            "filters": {"filters": {"sure": sure, UNSURE: {"bool": {"must_not": [sure]}}}},
            "aggs": {"label": terms},
        }

    def label_shown(self, post: dict, label: str) -> str:
        """A post's (``_source``'s) label as shown: ``unsure`` when less confident than ``min_confidence``."""
        scores = post[label]
        if self.min_confidence is None or (scores.get("confidence") or 0.0) >= self.min_confidence:
            return scores["label"]
        return UNSURE

    def post_clauses(self) -> list[dict]:
        """For the posts index, where every filter applies."""
        return self._clauses(FIELDS, POST_TIME)

    def time_clauses(self, time_field: str) -> list[dict]:
        """Only the time window, on another index's time field (the dashboard's releases by their date)."""
        return self._clauses({}, time_field)

    def feedback_clauses(self) -> list[dict]:
        """Feedback items are filtered by topic and product, and are current when last seen in the window."""
        return self._clauses(FEEDBACK_FIELDS, "last_seen")


def version_terms(value: str) -> tuple[str, list[str]]:
    """The indexed field a ``--version`` value filters, and the values it matches there.

    A bare version ("1.0.7.0", "v3.2.1") matches ``versions.version``, whatever the line; a line and
    a version ("hyperos 1.0.7.0", "hyperos:1.0.7.0", "One UI 6.1") match ``versions.tag``, and there a
    major alone is a version, as in posts ("android 14" is android 14.0). Every spelling of the same
    release point matches: "1.0.7" finds posts that say 1.0.7.0 (``canyu.versions.version_key``).
    ValueError with a sentence when it does not parse.
    """
    try:
        return "versions.version", _spellings(parse_version(value))
    except ValueError as e:
        as_bare = e
    typed = re.match(r"^\s*(.*?)[\s:]+([vV]?\s*[0-9][0-9.]*)\s*$", value)
    if not typed or not typed.group(1):
        hint = 'or a line and a version: "hyperos 1.0.7.0", hyperos:1.0.7.0, "android 14"'
        raise ValueError(f"--version {value!r}: {as_bare}, {hint}") from None
    line = "".join(typed.group(1).lower().split())
    if line not in SOFTWARE_LINES:
        lines = ", ".join(SOFTWARE_LINES)
        raise ValueError(f"--version {value!r}: {line!r} is not a software line; choose from {lines}")
    try:
        version = parse_version(typed.group(2), major_alone=True)
    except ValueError as e:
        raise ValueError(f"--version {value!r}: {e}") from None
    return "versions.tag", [f"{line} {spelling}" for spelling in _spellings(version)]


def _spellings(version: str) -> list[str]:
    """The normalised spellings of one release point: "1.0.7" → 1.0.7, 1.0.7.0, 1.0.7.0.0."""
    key = version_key(version)
    return [".".join(map(str, key + (0,) * (parts - len(key)))) for parts in range(max(len(key), 2), 6)]


def version_clause(values: list[str]) -> dict:
    """Posts that name any of the ``--version`` values (see ``version_terms``)."""
    wanted: dict[str, list[str]] = {"versions.version": [], "versions.tag": []}
    for value in values:
        name, terms = version_terms(value)
        wanted[name] += [term for term in terms if term not in wanted[name]]
    either = [{"terms": {name: terms}} for name, terms in wanted.items() if terms]
    return either[0] if len(either) == 1 else {"bool": {"should": either, "minimum_should_match": 1}}


def count_by(name: str, size: int) -> dict:
    """Counts of the posts by a field named the short way (a name in ``FIELDS``): its ``size`` most common values.

    Read the response with ``counts``.
    """
    return {"terms": {"field": FIELDS[name], "size": size}}


def counts(agg: dict) -> dict[str, int]:
    """The counts in an aggregation's response, by value: of a ``count_by`` or a date histogram (by its
    ``key_as_string``), or of a ``Filters.label_agg``, most first, ``unsure`` among them when there are any."""
    buckets = agg["buckets"]
    if isinstance(buckets, list):
        return {str(b.get("key_as_string", b["key"])): b["doc_count"] for b in buckets}
    found = counts(buckets["sure"]["label"])
    if buckets[UNSURE]["doc_count"]:
        found[UNSURE] = buckets[UNSURE]["doc_count"]
    return dict(sorted(found.items(), key=lambda kv: -kv[1]))


def _shown(at: Time) -> str:
    return at if isinstance(at, str) else at.isoformat()
