"""The worker's Kafka transport: Faust's aiokafka driver, with fetches the broker holds only briefly.

aiokafka keeps one fetch in flight per broker, and a fetch leaves out the partitions whose
records the consumer still holds. Faust's driver asks the broker to hold each fetch up to 1.5 s
for new records (``fetch_max_wait_ms``, fixed there). So while the stateful step works through
the records of posts.classified it holds, the next fetch goes out for the other partitions only,
and where those are quiet (the enrich stream took a backlog of posts.raw into its buffer long
before) the broker holds it the full 1.5 s: the stateful step then waits with nothing to do. On a
backlog it fell behind the classifier that way, and worked in bursts of about a second with a
second's pause between them (docs/performance.md).
"""

from __future__ import annotations

import logging

import aiokafka
import faust
from faust.transport.drivers import aiokafka as driver

log = logging.getLogger(__name__)

# The longest the broker holds a fetch that finds nothing new: an idle worker asks this often.
FETCH_WAIT_MS = 100


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: driver.Transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        if not hasattr(consumer, "_fetch_max_wait_ms"):  # private to aiokafka: say so if it is gone
            log.warning("aiokafka %s has no _fetch_max_wait_ms: fetches wait Faust's 1.5 s", aiokafka.__version__)
        consumer._fetch_max_wait_ms = FETCH_WAIT_MS  # aiokafka hands it to the fetcher it makes on start
        return consumer


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer


class App(faust.App):
    """A Faust app whose consumer uses :class:`Transport` (the broker is always Kafka here)."""

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)
