"""Runs sources: fetch a page, publish its posts and dead letters, wait for Kafka, then save the cursor.

The order of those steps is the whole loss-free, double-free design: the cursor moves
only past pages that Kafka acknowledged, and the ids published lately travel with it,
so a restart neither skips a page nor publishes a post twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from kafka.errors import KafkaError, MessageSizeTooLargeError

from canyu import topics
from canyu.schema import DeadLetter, Post
from canyu.settings import Settings
from canyu_runtime.dead_letters import DeadLetterWriter
from canyu_runtime.errors import RetryLater
from canyu_runtime.kafka_clients import MAX_RECORD_BYTES, make_producer, publish
from canyu_runtime.reasons import reason_of
from canyu_runtime.retry import RetryPolicy, Stopped
from producers.base import BadPayload, Page, Record, Source
from producers.http import FetchError
from producers.metrics import SourceStats
from producers.state import Cursor, CursorStore

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 60


class PublishError(Exception):
    """Kafka did not acknowledge every record of a page; the page will be fetched again."""


def to_post(source: Source, record: Record) -> Post:
    post = source.map_item(record.item)
    limit = source.config.max_text_chars
    if len(post.text) > limit:
        raise ValueError(f"text is {len(post.text)} characters, over the limit of {limit}")
    size = len(post.model_dump_json().encode())
    if size > MAX_RECORD_BYTES:
        raise ValueError(f"the post is {size} bytes, over Kafka's record limit of {MAX_RECORD_BYTES}")
    return post


def mapped(source: Source, records: list[Record]) -> Iterator[tuple[Record, Post | None, str | None]]:
    """Each record with its post, or with the reason it is not one."""
    for record in records:
        try:
            yield record, to_post(source, record), None
        except Exception as e:  # any record the mapping cannot take is a dead letter, never a crash
            yield record, None, reason_of(e)


Outgoing = tuple[Post | None, bytes, str | None]  # a post, or no post: the raw record and why it is none


def key_of(post: Post | None, raw: bytes) -> str:
    """What says that two records are one: a post's id; a bad record's bytes (a feed that keeps serving it is
    not dead-lettered on each poll)."""
    return post.id if post else f"dead-letter:{hashlib.sha256(raw).hexdigest()[:32]}"


def first_of_each(outgoing: Iterable[Outgoing]) -> tuple[list[tuple[str, Outgoing]], int]:
    """Each record once, by ``key_of``, the first copy kept, and how many copies were left out: a page may list a
    status and, inside another one's ``retweeted_status``, the same status again. What a poll publishes and what
    ``--dry-run`` prints both come from here."""
    unique: dict[str, Outgoing] = {}
    repeated = 0
    for post, raw, reason in outgoing:
        key = key_of(post, raw)
        if key in unique:
            repeated += 1
        else:
            unique[key] = (post, raw, reason)
    return list(unique.items()), repeated


@dataclass
class PageResult:
    published: int = 0
    duplicates: int = 0
    failed: int = 0


class Publisher:
    """Sends posts and dead letters for one source, then waits until Kafka acknowledged them all."""

    def __init__(self, producer, settings: Settings, source: Source):
        self.producer = producer
        self.source = source
        self.posts_topic = settings.topic(topics.POSTS_RAW)
        self.dead_letters = DeadLetterWriter(settings, producer)

    def dead_letter(self, raw: bytes, reason: str):
        """Send ``raw`` to the dead-letter topic; the future resolves when Kafka acknowledged it."""
        letter = DeadLetter.of(raw, stage="produce", source=self.source.name, reason=reason, topic=self.posts_topic)
        return self.dead_letters.send(letter)

    def publish_page(self, records: list[Record], cursor: Cursor) -> PageResult:
        return self.send_all(
            [(post, record.raw, reason) for record, post, reason in mapped(self.source, records)], cursor
        )

    def send_all(self, outgoing: list[Outgoing], cursor: Cursor) -> PageResult:
        """Send each post, or each raw record with the reason it is no post, once, unless the cursor has seen it."""
        unique, repeated = first_of_each(outgoing)
        result = PageResult(duplicates=repeated)
        sent = []  # (key, is a dead letter, future)
        errors = []
        for key, (post, raw, reason) in unique:
            if cursor.seen(key):
                result.duplicates += 1
                continue
            try:
                future = publish(self.producer, self.posts_topic, post) if post else self.dead_letter(raw, reason)
            except MessageSizeTooLargeError as e:  # refused before sending: no retry will make it fit
                post, future = None, self.dead_letter(raw, f"Kafka refused the record as too large: {e}")
            except KafkaError as e:  # e.g. no metadata in time: the page is fetched again
                errors.append(f"{key}: {type(e).__name__}: {e}")
                continue
            sent.append((key, post is None, future))
        for key, is_dead_letter, future in sent:
            try:
                future.get(timeout=ACK_TIMEOUT_S)
            except KafkaError as e:
                errors.append(f"{key}: {type(e).__name__}: {e}")
                continue
            result.failed += is_dead_letter
            result.published += not is_dead_letter
            cursor.remember(key, self.source.config.remember)
        if errors:
            raise PublishError(f"{len(errors)} of {len(sent)} records not acknowledged, e.g. {errors[0]}")
        return result


EXPECTED_ERRORS = (BadPayload, FetchError, PublishError, RetryLater)  # logged in one line, without a traceback
# What a poll tries again, with the source's backoff: a response it could not read, a page Kafka did not
# acknowledge, a source that says "later" (an empty Discuz! feed). HTTP failures are not among them: the
# source's Http client retried those already, and a FetchError means its tries are spent.
RETRIED = (BadPayload, PublishError, RetryLater)


def poll(source: Source, publisher: Publisher, store: CursorStore, stats: SourceStats, settings: Settings,
         stop: threading.Event, once: bool = False) -> bool:  # fmt: skip
    """Poll until ``stop`` is set (or, with ``once``, until caught up). False when ``once`` gave up on errors.

    A page that fails with one of ``RETRIED`` is tried again under the one retry policy: without end
    (until ``stop``), or with ``once`` ``retries`` times. Any other failure ends the poll: ``once`` gives
    up, otherwise the next poll comes after ``interval_s``.
    """
    cursor = store.load()
    config = source.config
    retry = RetryPolicy(first_s=config.backoff_s, max_s=config.max_backoff_s,
                        attempts=config.retries + 1 if once else None)  # fmt: skip

    def next_page() -> tuple[Page, PageResult]:
        page = source.fetch(cursor.position)
        return page, publisher.publish_page(page.records, cursor)

    def failed(e: BaseException) -> None:
        if isinstance(e, BadPayload):  # keep the unreadable response itself (if Kafka refuses, the next try does)
            try:
                stats.failed += publisher.send_all([(None, e.raw, f"unreadable response: {e}")], cursor).failed
            except Exception as kept:  # noqa: BLE001 - setting it aside must never end the source's thread
                log.warning("%s: the unreadable response was not dead-lettered: %s", source.name, reason_of(kept))
        if isinstance(e, (BadPayload, PublishError)):
            store.save(cursor)  # the position stays; what Kafka did acknowledge is remembered
        stats.poll_errors += 1
        stats.last_error = reason_of(e)
        stats.save(settings)
        if not isinstance(e, EXPECTED_ERRORS):
            log.error("%s: poll failed", source.name, exc_info=e)
        else:
            log.warning("%s: poll failed: %s", source.name, stats.last_error)

    while not stop.is_set():
        try:
            page, result = retry.call(next_page, what=f"{source.name}: poll", retry_on=RETRIED, stop=stop,
                                      on_failure=failed, logger=log, level=logging.DEBUG)  # fmt: skip
        except Stopped:
            break
        except Exception:  # noqa: BLE001 - counted and logged by ``failed``; a source's thread never ends on one
            if once:
                return False
            stop.wait(config.interval_s)
            continue
        cursor.position = page.position
        store.save(cursor)  # only now: every record of the page is acknowledged
        stats.fetched += len(page.records) + page.skipped
        stats.published += result.published
        stats.duplicates += result.duplicates + page.skipped
        stats.failed += result.failed
        stats.last_success = time.time()
        stats.last_error = None
        stats.save(settings)
        log.info("%s: page done: %s", source.name, stats.line())
        if page.more:
            continue
        if once:
            return True
        stop.wait(config.interval_s)
    return True


def run_sources(sources: list[Source], settings: Settings, stop: threading.Event, *, once: bool = False,
                report: Callable[[str], None] = print, report_every_s: float = 10.0,
                stats: list[SourceStats] | None = None) -> bool:  # fmt: skip
    """Run every source in its own thread, sharing one Kafka producer; report a status line now and then."""
    stats = stats if stats is not None else [SourceStats(s.name, s.kind) for s in sources]
    producer = make_producer(settings)
    outcomes: dict[str, bool] = {}

    def run(source: Source, source_stats: SourceStats) -> None:
        publisher = Publisher(producer, settings, source)
        store = CursorStore.for_source(settings, source.name)
        outcomes[source.name] = poll(source, publisher, store, source_stats, settings, stop, once)

    threads = [
        threading.Thread(target=run, args=pair, name=pair[0].name, daemon=True)
        for pair in zip(sources, stats, strict=True)
    ]
    try:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(report_every_s / len(threads))
            for line in (s.line() for s in stats):
                report(line)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        producer.close()
        for source in sources:
            source.close()
    return all(outcomes.get(s.name, False) for s in sources)
