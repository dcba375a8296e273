"""Deliver notifications to webhooks, Slack-compatible webhooks, email and Kafka topics (``canyu deliver``).

Delivery is at least once: offsets are committed only after every notification of a
batch was delivered, set aside for a retry or dead-lettered, so a crash repeats some
deliveries. Each one carries the notification id (header ``X-Canyu-Notification-Id``,
or the email's Message-ID) for receivers to deduplicate.

One module per job:

- ``sink``: the sink itself. It reads ``notifications`` and ``notifications.retry``, refuses
  to start while a webhook would go out unsigned, and hands each batch to the scheduler,
  then what became of it to the retry bookkeeping;
- ``scheduler``: serves a batch's endpoints at once, each request under a timeout and the
  batch under a deadline, so that one dead receiver never holds the others;
- ``retry_topic``: what becomes of a failure: another try on ``notifications.retry`` after
  the backoff, or a dead letter once the tries are spent or the receiver refused;
- ``channel``: the small base every channel is built on (:class:`~sinks.delivery.channel.Sender`);
- the channels: ``webhook`` (webhooks and Slack: signed, through the one outbound guard),
  ``mail`` (SMTP) and ``kafka_topic``.
"""

from sinks.delivery.sink import DeliverySink

__all__ = ["DeliverySink"]
