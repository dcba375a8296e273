"""``classifier``: the classifier alone, the baseline of every ratio.

In this process, in batches of ``batch_size`` and with the worker's ``classifier_threads``. It is
taken first, and again right after ``e2e`` when that runs: the ratios are to the mean of the two,
because this machine's speed can change within a run (one baseline spent 4.50 ms of CPU per post,
against 3.30 to 3.52 in the runs around it).
"""

from __future__ import annotations

import json
import time

from tqdm import tqdm

from canyu.settings import Settings


def classifier_alone(settings: Settings, records: list[tuple[bytes, bytes]]) -> dict:
    from models import describe_threads, load_classifier, thread_counts

    texts = [json.loads(value)["text"] for _, value in records]
    # The worker's own thread budget, so that the baseline is given no more cores than the worker.
    clf = load_classifier(settings.classifier, threads=settings.classifier_threads)
    clf.classify(texts[:8])  # warm up lazily loaded parts
    began, cpu_began = time.perf_counter(), time.process_time()
    for start in tqdm(range(0, len(texts), settings.batch_size), desc="classifier alone", leave=False, mininterval=1):
        clf.classify(texts[start : start + settings.batch_size])
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    return {
        "posts_per_s": len(texts) / seconds,
        "classifier": clf.name,
        "threads": describe_threads(thread_counts()),
        "cpu_ms_per_post": {"classifier": cpu * 1000 / len(texts)},
        "cores_busy": cpu / seconds,
    }
