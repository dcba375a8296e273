"""``scaling``: ``e2e`` again in two fresh namespaces on 4 partitions, with one worker and with two
(one app id, two web ports); the ratio of the two rates."""

from __future__ import annotations

from collections.abc import Callable

from bench.pipeline.end_to_end import end_to_end
from bench.pipeline.namespace import Pipeline

PARTITIONS = 4


def scaling(
    start: Callable[..., Pipeline], finish: Callable[[Pipeline], None], records: list[tuple[bytes, bytes]]
) -> dict:
    """``start(workers, **settings)``: a started pipeline in a fresh namespace; ``finish`` stops and forgets it."""
    out = {}
    for workers in (1, 2):
        pipe = start(workers, topic_partitions=PARTITIONS)
        out[f"scaling_{workers}"] = end_to_end(pipe, records, f"{workers} worker(s), {PARTITIONS} partitions")
        finish(pipe)
    return out
