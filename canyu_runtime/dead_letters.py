"""The one dead-letter path: a record that no retry can fix, kept whole with its stage, source and reason.

Every room sends its dead letters to the same topic, keyed and encoded the same way:
synchronous rooms through :class:`DeadLetterWriter`, the Faust worker by sending
:func:`message` on its own producer.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

from kafka import KafkaProducer
from pydantic import ValidationError

from canyu import topics
from canyu.schema import DeadLetter
from canyu.settings import Settings
from canyu_runtime.kafka_clients import MAX_RECORD_BYTES, make_producer, read_all
from canyu_runtime.metrics import METRICS

log = logging.getLogger(__name__)
ACK_TIMEOUT_S = 30


MAX_REASON_CHARS = 2_000


def fitted(letter: DeadLetter, limit: int = MAX_RECORD_BYTES) -> DeadLetter:
    """The letter, its raw bytes cut short (and the reason saying so) when it would be over Kafka's record limit:
    a record too big for Kafka is set aside in part rather than stopping whoever sets it aside."""
    if len(letter.reason) > MAX_REASON_CHARS:
        letter = letter.model_copy(update={"reason": letter.reason[:MAX_REASON_CHARS] + "…"})
    size = len(letter.model_dump_json().encode())
    if size <= limit:
        return letter
    raw = letter.raw()
    room = limit - (size - len(letter.raw_base64)) - 200  # what the rest of the letter and the note below take
    keep = max(0, room // 4 * 3)
    return letter.model_copy(
        update={
            "raw_base64": base64.b64encode(raw[:keep]).decode("ascii"),
            "reason": f"{letter.reason} (too big to keep whole: the first {keep} of {len(raw)} bytes are kept)",
        }
    )


def message(letter: DeadLetter) -> tuple[bytes, bytes]:
    """The Kafka key and value of a dead letter: keyed by the record's key, else its source.

    Every dead letter, from any room, is encoded here once, so this is where it is counted."""
    METRICS.dead_lettered(letter.topic)
    letter = fitted(letter)  # never over Kafka's limit
    return (letter.key or letter.source or "").encode(), letter.model_dump_json().encode()


class DeadLetterWriter:
    """Sends dead letters on a kafka-python producer: its own, opened on first use, or one given."""

    def __init__(self, settings: Settings, producer: KafkaProducer | None = None):
        self.settings = settings
        self.topic = settings.topic(topics.DEAD_LETTERS)
        self._producer = producer
        self._own = producer is None

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:  # most services never write a dead letter
            self._producer = make_producer(self.settings)
        return self._producer

    def send(self, letter: DeadLetter):
        """Send one; the future resolves when Kafka acknowledged it."""
        log.warning("dead letter from %s%s: %s", letter.stage, f" ({letter.source})" if letter.source else "",
                    letter.reason)  # fmt: skip
        key, value = message(letter)
        return self.producer.send(self.topic, key=key, value=value)

    def send_all(self, letters: list[DeadLetter]) -> None:
        """Send and wait for every ack, so the offsets of their batch are committed only after."""
        for future in [self.send(letter) for letter in letters]:
            future.get(timeout=ACK_TIMEOUT_S)

    def close(self) -> None:
        if self._own and self._producer is not None:
            self._producer.close()
            self._producer = None


@dataclass(frozen=True)
class Stored:
    """A dead letter as it sits on its topic: where (``partition:offset``), and the letter."""

    ref: str
    letter: DeadLetter | None  # None: the record on the topic is not a dead letter at all
    value: bytes | None


def read_dead_letters(settings: Settings) -> list[Stored]:
    """Every dead letter kept now (the topic's retention is ``dead_letter_retention_days``), oldest first."""
    stored = []
    for record in read_all(settings, settings.topic(topics.DEAD_LETTERS)):
        try:
            letter = DeadLetter.model_validate_json(record.value or b"")
        except ValidationError:
            letter = None
        stored.append(Stored(f"{record.partition}:{record.offset}", letter, record.value))
    return sorted(stored, key=lambda s: (s.letter.failed_at.timestamp() if s.letter else 0, s.ref))


def send_back(producer: KafkaProducer, letter: DeadLetter, value: bytes | None = None):
    """Send a dead letter's record (or a fixed ``value`` for it) to the topic it came from, with its key."""
    if not letter.topic:
        raise ValueError(f"the dead letter from stage {letter.stage} does not say which topic it came from")
    key = letter.key.encode() if letter.key else None
    return producer.send(letter.topic, key=key, value=letter.raw() if value is None else value)
