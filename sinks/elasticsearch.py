"""Index enriched posts into Elasticsearch through a write alias.

The document id is the post id, so replaying the same posts overwrites rather
than duplicates. Records that are not valid enriched posts, and documents that
Elasticsearch rejects, go to ``posts.dlq`` with the reason; everything else in
the batch is indexed.
"""

from __future__ import annotations

import json
from importlib import resources

from elasticsearch import Elasticsearch
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import ValidationError

from canyu import topics
from canyu.schema import DeadLetter, EnrichedPost
from canyu.settings import Settings
from producers.kafka import make_producer
from sinks.base import BatchSink

# Transient answers worth retrying the whole batch for; any other per-document error is final.
RETRYABLE_STATUS = {429, 500, 502, 503, 504}


def client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.es_url, request_timeout=30, retry_on_timeout=True, max_retries=3)


def load_template() -> dict:
    return json.loads((resources.files("sinks") / "conf" / "posts.template.json").read_text())


def ensure_index(es: Elasticsearch, alias: str) -> bool:
    """Apply the template and create the first index behind ``alias``; True if it was created."""
    template = load_template()
    es.indices.put_index_template(
        name=alias,
        index_patterns=[f"{alias}-*"],
        template={"settings": template["settings"], "mappings": template["mappings"]},
        priority=100,
    )
    if es.indices.exists_alias(name=alias):
        return False
    es.indices.create(index=f"{alias}-000001", aliases={alias: {"is_write_index": True}})
    return True


class ElasticsearchSink(BatchSink):
    name = "elasticsearch-sink"

    def __init__(self, settings: Settings):
        super().__init__(settings, settings.topic(topics.POSTS_ENRICHED), settings.sink_group)
        self.es = client(settings)
        self.alias = settings.posts_alias
        self.dlq_topic = settings.topic(topics.POSTS_DLQ)
        self._dlq = None

    def write(self, batch: list[ConsumerRecord]) -> None:
        operations: list[dict] = []
        records: list[ConsumerRecord] = []
        dead: list[DeadLetter] = []
        for record in batch:
            try:
                post = EnrichedPost.model_validate_json(record.value)
            except ValidationError as e:
                dead.append(self._dead(record, f"not a valid EnrichedPost: {e.errors()[0]['msg']}"))
                continue
            operations += [{"index": {"_index": self.alias, "_id": post.id}}, post.model_dump(mode="json")]
            records.append(record)
        if operations:
            response = self.es.bulk(operations=operations)
            if response["errors"]:
                for record, item in zip(records, response["items"], strict=True):
                    result = item["index"]
                    if result.get("status", 200) in RETRYABLE_STATUS:
                        raise RuntimeError(f"Elasticsearch answered {result['status']}: {result.get('error')}")
                    if "error" in result:
                        dead.append(self._dead(record, f"rejected by Elasticsearch: {json.dumps(result['error'])}"))
        self._send_dead(dead)

    def _dead(self, record: ConsumerRecord, reason: str) -> DeadLetter:
        return DeadLetter.of(
            record.value,
            stage="sink",
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode("utf-8", "replace") if record.key else None,
        )

    def _send_dead(self, dead: list[DeadLetter]) -> None:
        if not dead:
            return
        if self._dlq is None:
            self._dlq = make_producer(self.settings)
        for letter in dead:
            self._dlq.send(self.dlq_topic, key=(letter.key or "").encode(), value=letter.model_dump_json().encode())
        self._dlq.flush()  # before the batch's offsets are committed

    def close(self) -> None:
        if self._dlq is not None:
            self._dlq.close()
        self.es.close()
