"""``e2e``: posts/s from the first publish until every post is searchable, and where the CPU went.

A fresh namespace (``bench-<random>.``: its own topics, groups and indices), ``canyu init``, one
``canyu worker`` and one ``canyu sink``; N posts published as fast as one producer can
(``acks=all``, keyed by id). The clock runs from the first publish until all N are counted in
the posts alias. It starts once the worker's ``/assignment/`` lists partitions and the warm-up
rounds are done (``bench.pipeline.warm_up``); with ``--cold``, at once on the just-started
worker and sink, as after a new user's ``make up`` or an outage that left a backlog.

Then the CPU that each process used per post meanwhile, with its descendants: the worker, its
children (the classifier's process), the sink, Kafka and Elasticsearch (when their pid files are
on this machine) and the bench itself, which publishes and polls; and how long each waited,
ready to run, for a core. Together with the classifier alone they say whether the cores can
carry the end-to-end rate at all, and the waits say who the cores were short for. On a
``--cold`` run the classifier's process is started within the clock, so its CPU per post
includes loading the classifier, which the baseline's leaves out.
"""

from __future__ import annotations

import threading
import time

from bench.pipeline.namespace import Pipeline
from bench.pipeline.processes import Usage


def end_to_end(pipe: Pipeline, records: list[tuple[bytes, bytes]], what: str) -> dict:
    """Publish every record as fast as one producer can, and time them until all are searchable."""
    target = pipe.count() + len(records)
    publisher = threading.Thread(target=pipe.publish, args=(records,), daemon=True)
    cpu_began = pipe.usage()
    began = time.monotonic()
    publisher.start()
    ended = pipe.wait_count(target, what)
    publisher.join()
    return {
        "posts": len(records),
        "seconds": ended - began,
        "posts_per_s": len(records) / (ended - began),
        **cpu_use(pipe, cpu_began, len(records), ended - began),
        "warm_up_ms": pipe.warm_up_ms,
    }


def cpu_use(pipe: Pipeline, began: dict[str, Usage], posts: int, seconds: float) -> dict:
    """Each process's CPU per post since ``began`` (what ``usage`` said then), the cores busy, and
    each process's wait for a core per post. A process that started since (the worker's classifier
    process, on a ``--cold`` start) counts all it used."""
    now, none = pipe.usage(), Usage(0.0, 0.0)
    spent = {name: Usage(used.cpu_s - began.get(name, none).cpu_s, used.wait_s - began.get(name, none).wait_s)
             for name, used in now.items()}  # fmt: skip
    return {
        "cpu_ms_per_post": {name: used.cpu_s * 1000 / posts for name, used in spent.items()},
        "cores_busy": sum(used.cpu_s for used in spent.values()) / seconds,
        "wait_ms_per_post": {name: used.wait_s * 1000 / posts for name, used in spent.items()},
    }
