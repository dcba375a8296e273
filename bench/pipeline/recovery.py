"""``recovery``: SIGKILL of the worker that holds the state; a new one on the same web port and
app id, and a marker post. Seconds from the kill until the new worker's ``/assignment/`` lists
partitions, and until the marker is searchable (the dead member's Kafka session timed out, the
tables recovered: the same port is the same local store folder)."""

from __future__ import annotations

import time

from bench.pipeline.namespace import Pipeline, port_free


def recovery(pipe: Pipeline, texts: dict[str, list[str]]) -> dict:
    """SIGKILL the worker, start another on its port, and time it back to work."""
    state_posts, target = pipe.published, pipe.count() + 1
    killed = time.monotonic()
    pipe.kill("worker")
    pipe.publish(pipe.new_posts(texts, 1, "marker"))
    while not port_free(pipe.ports["worker"]):
        time.sleep(0.1)
    pipe.start("worker")
    pipe.wait_assigned(["worker"])
    assigned = time.monotonic()
    searchable = pipe.wait_count(target, "marker after the kill")
    return {"state_posts": state_posts, "to_assignment_s": assigned - killed,
            "to_marker_searchable_s": searchable - killed}  # fmt: skip
