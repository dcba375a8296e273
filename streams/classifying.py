"""``enrich``'s classifier in a process of its own, or in a thread.

In a thread, the classifier shares the worker's GIL with Faust and the stateful step, so the
worker cannot use more than one core: at 148 posts/s it used 0.94 of one while the machine's
second core was half idle (``git show 9d6f289:docs/performance.md``, "Where the CPU goes"). In
a process it has an interpreter, and a core, of its own. The thread stays for tests, which hand the worker a
classifier of their own, and for a machine with one core.

The process is started with ``spawn`` (a fork would copy the worker's event loop and Kafka
threads) and loads the classifier, the product catalogue, the version rules and the settings once. Its
numeric libraries run ``classifier_threads`` threads (``models.load_classifier``), from the
start: the worker sets the environment they read as they load before it starts the process. It turns raw
records into finished results: the post's JSON, or its dead letter, and its near-duplicate
fingerprint. So the worker itself does no classifier work at all.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from canyu.schema import DeadLetter
from canyu.settings import Settings
from models import VersionFinder, limit_environment, load_classifier, thread_counts
from streams.enrich import RawRecord, enrich_batch
from streams.feedback import is_feedback
from streams.products import Catalogue
from streams.recent import pack_vector
from streams.simhash import fingerprint_of

log = logging.getLogger(__name__)

# A post's result: its id and JSON, or its dead letter; its fingerprint (None: too few features); and,
# for a post that feedback items group, the classifier's sentence vector, packed (None otherwise).
Result = tuple[tuple[str, str] | DeadLetter, int | None, bytes | None]

PARENT_CHECK_S = 1.0
_loaded: dict = {}  # in the process (or thread) that classifies: what _load made, or why it failed


def _load(settings: Settings, min_features: int, worker: int | None) -> None:
    """``worker``: the pid of the worker, when this is its classifier process."""
    if worker is not None:
        # Ctrl-C reaches the whole process group: the worker decides. A worker that stops, or
        # is killed, says nothing to this process, which would otherwise outlive it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_exit_without, args=(worker,), name="parent-watch", daemon=True).start()
    _loaded.clear()  # a thread's are the worker's own: what an earlier app loaded, or failed on, goes
    try:
        _loaded.update(
            classifier=load_classifier(settings.classifier.backend, threads=settings.classifier.threads),
            catalogue=Catalogue.load(settings.worker.products_file),
            versions=VersionFinder.load(),
            settings=settings,
            min_features=min_features,
        )
    except Exception as e:  # said by _ready, so the worker stops with the reason
        _loaded["failed"] = f"{type(e).__name__}: {e}"


def _exit_without(worker: int) -> None:
    while os.getppid() == worker:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _ready() -> str | None:
    return _loaded.get("failed")


def _enrich(records: list[RawRecord]) -> list[Result]:
    results = enrich_batch(
        records,
        _loaded["classifier"],
        _loaded["settings"],
        mentions=_loaded["catalogue"].mentions,
        versions=_loaded["versions"].find,
    )
    out: list[Result] = []
    for result in results:
        if isinstance(result, DeadLetter):
            out.append((result, None, None))
            continue
        post, vector = result
        fp = fingerprint_of(post.full_text, _loaded["min_features"])
        grouped = vector is not None and is_feedback(post)
        out.append(((post.id, post.model_dump_json()), fp, pack_vector(vector) if grouped else None))
    return out


class Classifying:
    """Where ``enrich`` classifies: ``in_process`` true for a process of its own."""

    def __init__(self, settings: Settings, min_features: int, in_process: bool) -> None:
        self._args = (settings, min_features, os.getpid() if in_process else None)
        # A process takes its priority from the thread that starts it, and the worker's other
        # threads step back (``worker_nice``): this thread, started now, starts every one.
        self._starter = ThreadPoolExecutor(1, "classifier-starter")
        self._executor = self._starter.submit(self._start).result()

    def _start(self) -> Executor:
        settings, _, worker = self._args
        if worker is not None:
            # A spawned process imports numpy before its initializer runs, and numpy's OpenBLAS
            # sizes its pool as it loads: the process takes the limit from the worker's environment.
            limit_environment(settings.classifier.threads)
            executor: Executor = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_load, initargs=self._args
            )
        else:
            executor = ThreadPoolExecutor(1, "classifier", initializer=_load, initargs=self._args)
        failed = executor.submit(_ready).result()  # loaded before the worker takes a post
        if failed:
            executor.shutdown()
            raise RuntimeError(f"the classifier {settings.classifier.backend!r} did not load: {failed}")
        return executor

    def pid(self) -> int:
        """The process that classifies: the classifier's own, or this one for a thread."""
        return self._executor.submit(os.getpid).result()

    def thread_counts(self) -> dict[str, int]:
        """The threads each numeric library runs where the classifier runs (``models.thread_counts``)."""
        return self._executor.submit(thread_counts).result()

    def close(self) -> None:
        """Stop the classifier's process (or thread); the worker's ends with it, a bench's must ask."""
        self._executor.shutdown()
        self._starter.shutdown()

    async def enrich(self, records: list[RawRecord]) -> list[Result]:
        """Each record's result. A classifier process that dies is started again and given the batch
        once more; a batch it dies on twice becomes dead letters, and the stream goes on."""
        loop = asyncio.get_running_loop()
        for _ in range(2):
            try:
                return await loop.run_in_executor(self._executor, _enrich, records)
            except BrokenProcessPool as e:
                log.error("the classifier process died (%s); starting another", e)
                self._executor = await loop.run_in_executor(self._starter, self._start)
        reason = "the classifier process died on this batch twice"
        return [(r.dead_letter("enrich", reason), None, None) for r in records]
