"""The Faust worker: ``posts.raw`` → classifier (in batches) → ``posts.enriched`` / ``posts.dlq``."""

from __future__ import annotations

import faust

from canyu import topics
from canyu.schema import DeadLetter
from canyu.settings import Settings
from models import load_classifier
from streams.enrich import RawRecord, enrich_batch


def create_app(settings: Settings) -> faust.App:
    datadir = settings.home / "faust" / settings.worker_app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.worker_app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(datadir),
        web_host="127.0.0.1",
        web_port=settings.worker_web_port,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
    )
    raw_topic = app.topic(settings.topic(topics.POSTS_RAW), key_serializer="raw", value_serializer="raw")
    enriched_topic = app.topic(settings.topic(topics.POSTS_ENRICHED), key_serializer="raw", value_serializer="raw")
    dlq_topic = app.topic(settings.topic(topics.POSTS_DLQ), key_serializer="raw", value_serializer="raw")
    classifier = load_classifier(settings.classifier)

    @app.agent(raw_topic, name="enrich")
    async def enrich(stream):
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_s):
            records = [
                RawRecord(
                    value=e.value,
                    topic=e.message.topic,
                    partition=e.message.partition,
                    offset=e.message.offset,
                    key=e.key.decode("utf-8", "replace") if e.key else None,
                )
                for e in events
            ]
            for result in enrich_batch(records, classifier):
                if isinstance(result, DeadLetter):
                    app.log.warning("dead letter at offset %s: %s", result.offset, result.reason)
                    await dlq_topic.send(key=(result.key or "").encode(), value=result.model_dump_json().encode())
                else:
                    await enriched_topic.send(key=result.id.encode(), value=result.model_dump_json().encode())

    return app


def run_worker(settings: Settings) -> None:
    from faust.worker import Worker

    Worker(create_app(settings), loglevel="INFO").execute_from_commandline()
