"""Warm-up rounds before a pipeline's clock starts (none with ``--cold``).

Right after ``canyu stack up`` the same run cost Elasticsearch and Kafka two to four times the
CPU per post that it did minutes later: their JVMs compile the code of each request, and the
sink's requests are few (one per 30 to 60 posts). So, unless the run is ``--cold``, each
pipeline takes rounds of ``--warm-up-posts`` posts all the way, until no process spent 10 %
less CPU per post than in the round before, eight rounds at most: the clock then measures
steady work, with the classifier loaded, the month index made, and the JVMs past compiling
their hot code.
"""

from __future__ import annotations

from bench.pipeline.namespace import Pipeline

WARM_UP_FALL, WARM_UP_FALL_MS, WARM_UP_ROUNDS = 0.1, 0.05, 8


def still_falling(before: dict[str, float], now: dict[str, float]) -> bool:
    """Whether some process spent less CPU per post than before, by ``WARM_UP_FALL`` of it and
    ``WARM_UP_FALL_MS`` at least."""
    return any(
        before[name] - ms > max(WARM_UP_FALL * before[name], WARM_UP_FALL_MS)
        for name, ms in now.items()
        if name in before
    )


def warm_up(pipe: Pipeline, workers: list[str], texts: dict[str, list[str]], n: int) -> None:
    """Wait for the assignment, then send rounds of ``n`` posts until no process's CPU per post is
    :func:`still_falling`; each round's CPU per post (ms), by process, goes to ``pipe.warm_up_ms``."""
    pipe.wait_assigned(workers)
    rounds = pipe.warm_up_ms
    for round_ in range(1, WARM_UP_ROUNDS + 1):
        target, began = pipe.count() + n, pipe.usage()
        pipe.publish(pipe.new_posts(texts, n, "warmup"))
        pipe.wait_count(target, f"warm-up {round_}", stall_s=60)
        used = pipe.usage()
        rounds.append({name: (used[name].cpu_s - began[name].cpu_s) * 1000 / n for name in began if name in used})
        if len(rounds) > 1 and not still_falling(*rounds[-2:]):
            break
