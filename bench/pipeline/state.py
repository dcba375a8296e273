"""``state``: M more posts through the e2e section's worker, its RSS sampled at each tenth of the
run, to see whether it stays flat as the tables grow; and the posts/s and CPU with that state."""

from __future__ import annotations

import threading
import time

from bench.pipeline.end_to_end import cpu_use
from bench.pipeline.namespace import Pipeline
from bench.pipeline.processes import rss_mib


def with_state(pipe: Pipeline, texts: dict[str, list[str]], m: int) -> dict:
    """M more posts through the same worker; its RSS at each tenth of them, the posts/s and where the CPU went."""
    pid, start = pipe.procs["worker"].pid, pipe.count()
    samples = [(0, rss_mib(pid))]

    def sample(count: int) -> None:  # once per tenth of the run (a poll may cross several)
        if (count - start) // max(1, m // 10) > samples[-1][0] // max(1, m // 10):
            samples.append((count - start, rss_mib(pid)))

    publisher = threading.Thread(target=pipe.publish, args=(pipe.new_posts(texts, m, "state"),), daemon=True)
    cpu_began = pipe.usage()
    began = time.monotonic()
    publisher.start()
    ended = pipe.wait_count(start + m, f"{m} posts of state", on_poll=sample)
    publisher.join()
    return {
        "posts": m,
        "posts_per_s": m / (ended - began),
        **cpu_use(pipe, cpu_began, m, ended - began),
        "rss_mib": samples,
    }
