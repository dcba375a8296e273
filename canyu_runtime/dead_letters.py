"""The one dead-letter path: a record that no retry can fix, kept whole with its stage, source and reason.

Every room sends its dead letters to the same topic, keyed and encoded the same way:
synchronous rooms through :class:`DeadLetterWriter`, the Faust worker by sending
:func:`message` on its own producer.
"""

from __future__ import annotations

import logging

from kafka import KafkaProducer

from canyu import topics
from canyu.schema import DeadLetter
from canyu.settings import Settings
from canyu_runtime.kafka_clients import make_producer

log = logging.getLogger(__name__)
ACK_TIMEOUT_S = 30


def message(letter: DeadLetter) -> tuple[bytes, bytes]:
    """The Kafka key and value of a dead letter: keyed by the record's key, else its source."""
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
