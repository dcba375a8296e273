"""Index enriched posts, alerts, feedback items, cascades and release impacts into Elasticsearch.

Each topic has a route: the record's type, its document id, the field its
external version comes from, and the index it goes to. Writes are idempotent
and ordered by that version (``external_gte``): replaying the same records
changes nothing, a newer fetch of a post updates its engagement counts, and an
older one is turned away with a version conflict, which is the intended outcome
and neither an error nor a dead letter.

Records that are not valid, posts dated outside the sane window of
:mod:`canyu.dates` (they would name an index such as ``posts-2999.01``), and
documents that Elasticsearch rejects go to ``dead-letters`` with the reason; the rest
of the batch is indexed. When Elasticsearch refuses the whole request (400, or 413:
too large), ``BatchSink`` splits the batch until only the record at fault is set
aside. Answers that say "try later" (429, 5xx) or that describe an outage rather
than a bad record (403: the index is blocked, read-only for a full disk; 404: the
index is missing) make the whole batch fail, so ``BatchSink`` retries it with
backoff before anything is committed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import orjson
from elasticsearch import ApiError
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import BaseModel, ValidationError

from canyu import topics
from canyu.dates import out_of_window
from canyu.indices import IndexKind, kinds, load_analysis
from canyu.settings import Settings
from canyu_runtime.elastic import client
from canyu_runtime.errors import Permanent, RetryLater
from canyu_runtime.migrations import migrate
from canyu_runtime.reasons import reason_of
from sinks.base import BatchSink

log = logging.getLogger(__name__)

# Per item: "try later", and outages (403 a blocked index, 404 a missing one) that no record causes.
RETRYABLE_STATUS = {403, 404, 429, 500, 502, 503, 504}
REQUEST_REFUSED = {400, 413}  # the whole bulk request, for something in it: split the batch
CONFLICT = 409  # an older version than the one indexed: nothing to do
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def version_of(when: datetime) -> int:
    """Microseconds since the epoch, in integers: exact, and later instants are larger."""
    return (when - EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Route:
    model: type[BaseModel]
    id_field: str
    version_field: str
    kind: IndexKind

    def index(self, doc: BaseModel) -> str:
        """A post's month by its creation; the write alias of the other kinds."""
        return self.kind.month_index(doc.created_at) if self.kind.monthly else self.kind.alias

    def action(self, doc: BaseModel) -> dict:
        return {
            "index": {
                "_index": self.index(doc),
                "_id": getattr(doc, self.id_field),
                "version": version_of(getattr(doc, self.version_field)),
                "version_type": "external_gte",
            }
        }

    def lines(self, doc: BaseModel) -> list[bytes]:
        """The document's two lines of a bulk request, encoded here: the client passes bytes through.
        Left to the client, a dict per document went through the standard library's JSON encoder,
        a fifth of the sink's CPU (docs/performance.md); pydantic writes the same JSON in Rust."""
        return [orjson.dumps(self.action(doc)), doc.model_dump_json().encode()]


def routes(settings: Settings) -> dict[str, Route]:
    """Topic name → how its records become documents (canyu.topics.SINK_READS)."""
    kind = kinds(settings)
    return {
        settings.topic(name): Route(how.record, how.id_field, how.version_field, kind[how.index_kind])
        for name, how in topics.SINK_READS.items()
    }


@dataclass
class Outcome:
    """What Elasticsearch made of a batch: counts, and each rejected record with the reason."""

    indexed: int = 0
    stale: int = 0
    rejected: list[tuple[ConsumerRecord, str]] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.indexed += other.indexed
        self.stale += other.stale
        self.rejected += other.rejected


def read_bulk_response(response: dict, records: list[ConsumerRecord]) -> Outcome:
    """Sort each item's answer (in the order of ``records``); raise ``RetryLater`` when one asks to try again."""
    outcome = Outcome()
    for record, item in zip(records, response["items"], strict=True):
        result = item["index"]
        status = result.get("status", 200)
        if status in RETRYABLE_STATUS:
            raise RetryLater(f"Elasticsearch answered {status} for {result.get('_id')}: {result.get('error')}")
        if status == CONFLICT:
            outcome.stale += 1
        elif "error" in result:
            outcome.rejected.append((record, f"rejected by Elasticsearch: {json.dumps(result['error'])}"))
        else:
            outcome.indexed += 1
    return outcome


class Refused(Permanent):
    """Elasticsearch refused a whole bulk request because of what it holds."""


class ElasticsearchSink(BatchSink):
    name = "elasticsearch-sink"

    def __init__(self, settings: Settings):
        load_analysis(settings.elasticsearch.analysis)  # a wrong setting fails now, not in an endless retry
        self.routes = routes(settings)
        super().__init__(settings, list(self.routes), settings.sink_group)
        self.es = client(settings)

    def prepare(self) -> None:
        for line in migrate(self.es, self.settings):
            log.info("%s: %s", self.name, line)

    def write(self, batch: list[ConsumerRecord]) -> None:
        valid: list[tuple[ConsumerRecord, list[bytes]]] = []
        outcome = Outcome()
        for record in batch:
            route = self.routes[record.topic]
            try:
                doc = route.model.model_validate_json(record.value or b"")
            except ValidationError as e:
                outcome.rejected.append((record, f"not a valid {route.model.__name__}: {reason_of(e)}"))
                continue
            try:
                reason = self._out_of_window(route, doc)
                if reason is None:
                    valid.append((record, route.lines(doc)))
            except (ValueError, OverflowError) as e:  # "date value out of range", and the like
                reason = f"no document can be made of it: {reason_of(e)}"
            if reason is not None:
                outcome.rejected.append((record, reason))
        if valid:
            outcome.add(self._index(valid))
        self.send_dead_letters([self.dead_letter(record, reason) for record, reason in outcome.rejected])
        log.info("%s: %d indexed, %d older than indexed, %d dead letters", self.name, outcome.indexed, outcome.stale,
                 len(outcome.rejected))  # fmt: skip

    def _out_of_window(self, route: Route, doc: BaseModel) -> str | None:
        """Why a post cannot name its monthly index: a date outside the sane window; None when it can."""
        if not route.kind.monthly:
            return None
        return out_of_window(doc.created_at, doc.fetched_at, self.settings)

    def _index(self, items: list[tuple[ConsumerRecord, list[bytes]]]) -> Outcome:
        try:
            response = self.es.bulk(operations=[op for _, ops in items for op in ops])
        except ApiError as e:
            if e.status_code in REQUEST_REFUSED:
                # For one bad document (an id over 512 bytes, a request too large), or so Elasticsearch
                # says: retrying would fail forever. BatchSink splits the batch to find the culprit.
                raise Refused(f"rejected by Elasticsearch: {e}") from e
            raise
        return read_bulk_response(response.body, [record for record, _ in items])

    def close(self) -> None:
        super().close()
        self.es.close()
