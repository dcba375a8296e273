"""``classifier``: the classifier alone, as the worker runs it, the baseline of every ratio.

The worker classifies through ``streams.classifying.Classifying``: in a process of its own
(``classifier_process``), spawned with ``classifier_threads`` threads in BLAS and OpenMP, on
batches of ``batch_size`` raw records, each turned into the post's JSON, its near-duplicate
fingerprint and, for feedback, its sentence vector. Here the same class, with the same
settings, gets the e2e section's posts as raw records of ``posts.raw``, in batches of
``batch_size``, one batch queued while the other is classified (the worker's ``enrich``
overlaps its batches so). Only Kafka and the event loop around it are missing. So the CPU per
post of its process is that of the worker's children in the pipeline, less what sharing the
cores costs: the report gives the two side by side, and their ratio.

It is taken first, and again right after ``e2e`` when that runs: the ratios are to the mean of
the two, because this machine's speed can change within a run (one baseline spent 4.50 ms of
CPU per post, against 3.30 to 3.52 in the runs around it).
"""

from __future__ import annotations

import asyncio
import time

import psutil
from tqdm import tqdm

from canyu import topics
from canyu.settings import Settings
from models import describe_threads
from streams.app import signal_config
from streams.classifying import Classifying
from streams.enrich import RawRecord


def raw_records(settings: Settings, records: list[tuple[bytes, bytes]]) -> list[RawRecord]:
    """The records as the worker reads them from ``posts.raw``: spread over its partitions."""
    raw, partitions = settings.topic(topics.POSTS_RAW), settings.kafka.topic_partitions
    return [RawRecord(value, raw, i % partitions, i // partitions, key.decode()) for i, (key, value) in
            enumerate(records)]  # fmt: skip


async def _classify(classifying: Classifying, batches: list[list[RawRecord]]) -> None:
    """Every batch, the next one queued while one is classified, as ``enrich`` does."""
    pending = None
    for batch in tqdm(batches, desc="classifier alone", leave=False, mininterval=1):
        queued = asyncio.ensure_future(classifying.enrich(batch))
        if pending is not None:
            await pending
        pending = queued
    if pending is not None:
        await pending


def classifier_alone(settings: Settings, records: list[tuple[bytes, bytes]]) -> dict:
    """Posts/s and CPU per post of the worker's classifier code path on ``records``, alone."""
    classifying = Classifying(settings, signal_config(settings).near_dup_min_features, settings.classifier.process)
    try:
        records_in = raw_records(settings, records)
        asyncio.run(classifying.enrich(records_in[:8]))  # warm up lazily loaded parts
        size = settings.worker.batch_size
        batches = [records_in[at : at + size] for at in range(0, len(records_in), size)]
        process = psutil.Process(classifying.pid())
        began, cpu_began = time.perf_counter(), process.cpu_times()
        asyncio.run(_classify(classifying, batches))
        seconds, cpu_ended = time.perf_counter() - began, process.cpu_times()
        threads = describe_threads(classifying.thread_counts())
    finally:
        classifying.close()
    cpu = cpu_ended.user + cpu_ended.system - cpu_began.user - cpu_began.system
    return {
        "posts_per_s": len(records) / seconds,
        "classifier": settings.classifier.backend,
        "in_process": settings.classifier.process,
        "threads": threads,
        "cpu_ms_per_post": {"classifier": cpu * 1000 / len(records)},
        "cores_busy": cpu / seconds,
    }
