"""``signals``: the stateful step alone (``bench.signals``), with empty state and after
``--state-posts`` posts of state, in this process: the rate the worker's event loop could carry
if it did nothing else."""

from __future__ import annotations

from bench import signals as signals_bench


def stateful_step(texts: dict[str, list[str]], posts: int, state_posts: int) -> dict:
    return signals_bench.run(texts, posts, state_posts)
