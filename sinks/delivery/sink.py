"""The delivery sink: notifications and their retries in, each through its channel, at least once.

It reads ``notifications`` and ``notifications.retry``. Each batch is served by the scheduler
(:mod:`sinks.delivery.scheduler`); then each notification's outcome is settled by the retry
bookkeeping (:mod:`sinks.delivery.retry_topic`): delivered, due again on the retry topic, or
dead-lettered. Only then does ``BatchSink.run`` commit the batch's offsets.

Delivery does not start while a webhook subscription relies on a default key that does not
exist: a webhook is never sent unsigned (:mod:`sinks.delivery.webhook`).
"""

from __future__ import annotations

import logging

from kafka.consumer.fetcher import ConsumerRecord

from canyu import topics
from canyu.schema import Notification
from canyu.settings import Settings
from canyu_runtime.errors import Misconfigured
from canyu_runtime.private import WEBHOOK_SECRET, secret_path, webhook_secret
from canyu_runtime.reasons import reason_of
from canyu_runtime.retry import RetryPolicy
from canyu_runtime.subscriptions import SubscriptionStore
from sinks.base import BatchSink
from sinks.delivery.channel import Sender
from sinks.delivery.kafka_topic import KafkaTopic
from sinks.delivery.mail import Email
from sinks.delivery.retry_topic import GiveUp, TryAgain, requeue, tries_and_due, verdict
from sinks.delivery.scheduler import SYSTEM_CLOCK, Clock, Job, serve
from sinks.delivery.webhook import Slack, Webhook

log = logging.getLogger(__name__)
SENDERS: dict[str, type[Sender]] = {sender.kind: sender for sender in (Webhook, Slack, Email, KafkaTopic)}


class DeliverySink(BatchSink):
    name = "delivery"
    stage = "deliver"
    clock: Clock = SYSTEM_CLOCK  # the batches' time and waits (a test's clock keeps the waits asked for)

    def __init__(self, settings: Settings):
        retry_topic = settings.topic(topics.NOTIFICATIONS_RETRY)
        super().__init__(settings, [settings.topic(name) for name in topics.DELIVER_READS], settings.delivery_group)
        self.retry_topic = retry_topic
        tries = settings.delivery
        self.delivery_retry = RetryPolicy(first_s=tries.backoff_s, max_s=tries.max_backoff_s, attempts=tries.attempts)

    def prepare(self) -> None:
        """Refuse to start while a webhook subscription relies on the default key and there is none."""
        if webhook_secret(self.settings):
            return
        relying = sorted(
            s.id for s in SubscriptionStore(self.settings).current().values()
            if s.channel.type == "webhook" and not s.channel.secret_env
        )  # fmt: skip
        if relying:
            raise Misconfigured(
                f"webhook subscriptions {', '.join(relying)} name no secret_env, and there is no default webhook "
                f"secret: set webhook_secret (CANYU_WEBHOOK_SECRET), or run `canyu init`, which stores one in "
                f"{secret_path(self.settings, WEBHOOK_SECRET)}; a webhook is never sent unsigned"
            )

    def write(self, batch: list[ConsumerRecord]) -> None:
        jobs: list[Job] = []
        for record in batch:
            try:
                notice = Notification.model_validate_json(record.value or b"")
            except ValueError as e:
                self._dead(record, f"not a valid Notification: {reason_of(e)}")
                continue
            channel = notice.channel
            jobs.append(Job(record, notice, SENDERS[channel.type].endpoint(channel.target), *tries_and_due(record)))
        if not jobs:
            return
        finished = serve(
            jobs,
            self.deliver,
            concurrency=self.settings.delivery.concurrency,
            deadline_s=self.settings.delivery.deadline_s,
            max_wait_s=self.delivery_retry.max_s,
            stop=self.stop,
            clock=self.clock,
        )
        if finished:
            self._settle(jobs)
        # else: shutdown; ``run`` commits nothing, so the batch is delivered again on the next start

    def deliver(self, notice: Notification, deadline: float | None = None) -> None:
        """One try; raises :class:`~canyu_runtime.outbound.Refused`, or any other error for a failure that a
        later try may get past."""
        deadline = deadline if deadline is not None else self.clock.monotonic() + self.settings.delivery.deadline_s
        self.sender(notice.channel.type).send(notice, deadline)

    def sender(self, kind: str) -> Sender:
        """The sender of one channel type, on the settings of now."""
        if kind == KafkaTopic.kind:
            return KafkaTopic(self.settings, self.producer)  # the dead-letter writer's, opened on first use
        return SENDERS[kind](self.settings)

    def _settle(self, jobs: list[Job]) -> None:
        """Send each job's failure to the retry topic or dead-letters, and wait for Kafka to have them all."""
        retries: list[tuple[Job, TryAgain]] = []
        letters = []
        now = self.clock.time()
        for job in jobs:
            notice = job.notice
            where = f"{notice.channel.type} {SENDERS[notice.channel.type].shown(notice.channel.target)}"
            step = verdict(job, self.delivery_retry, now, self.settings.delivery.deadline_s)
            if isinstance(step, GiveUp):
                letters.append(self.dead_letter(job.record, step.reason))
            elif isinstance(step, TryAgain):
                if step.error is not None:
                    log.warning("delivering %s to %s failed (%s); try %d in %.0fs", notice.id, where,
                                reason_of(step.error), step.tries + 1, step.due - now)  # fmt: skip
                retries.append((job, step))
            else:
                log.info("delivered %s to %s", notice.id, where)
        if retries:
            requeue(self.producer, self.retry_topic, retries)
        if letters:
            for letter in letters:
                log.error("notification at offset %s dead-lettered: %s", letter.offset, letter.reason)
            self.send_dead_letters(letters)

    def _dead(self, record: ConsumerRecord, reason: str) -> None:
        log.error("notification at offset %s dead-lettered: %s", record.offset, reason)
        self.send_dead_letters([self.dead_letter(record, reason)])
