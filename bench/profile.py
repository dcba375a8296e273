"""Where the worker's and the sink's CPU goes, per function: py-spy on a short run of the real pipeline.

    canyu stack up                # with the same CANYU_* environment as the bench
    nice -n 10 .venv-runtime/bin/python -m bench.profile [--posts 8000] [--seconds 60] [--out /tmp/canyu-profile]

A fresh namespace (``bench.pipeline.namespace``), one ``canyu worker`` and one ``canyu sink``,
500 posts all the way to warm up, then a backlog of ``--posts`` posts. Three seconds after the
first of them, py-spy records the worker (its own process: the classifier's is apart) and the
sink for ``--seconds``, sampling only the thread that holds the GIL (``--gil``): on a machine
that others share, a thread waiting for the GIL or a core would otherwise show in whatever
call it waits in. What it prints are shares of those samples, by function, with its callees
(inclusive) and alone (self): shares, unlike timings, a busy machine does not spoil much. The
raw profiles (py-spy's collapsed stacks) stay in ``--out`` for a flame graph. It also prints
each process's CPU per post over the backlog, for scale.

py-spy comes with the ``bench`` extra; it reads other processes' memory, which needs root or
``ptrace`` rights. Not a test: it asserts nothing. It deletes its namespace at the end.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil

from bench.corpus import read_texts
from bench.pipeline.namespace import Pipeline
from bench.pipeline.processes import cpu_s
from canyu.settings import Settings

WARM_UP_POSTS = 500
RATE_HZ = 100
EVERYWHERE = 0.9
# py-spy beside this interpreter (an install's bin folder), else on the PATH.
PY_SPY = (
    str(Path(sys.executable).with_name("py-spy")) if Path(sys.executable).with_name("py-spy").exists() else "py-spy"
)
WAITS = ("EpollSelector.select", "Condition.wait", "Event.wait", "_PollLikeSelector.select", "Thread.join")


def frame_name(frame: str) -> str:
    """``function (path/file.py:12)`` as ``function (file.py)``, so that one function's lines count as one."""
    function, _, where = frame.partition(" (")
    return f"{function} ({where.split(':')[0].rsplit('/', 1)[-1]})" if where else function


def samples(path: Path) -> Iterator[tuple[list[str], int]]:
    """Each stack of a raw profile (its function names, outermost first) and its count, less the waits."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [frame_name(f) for f in stack.split(";")]
        if count.isdigit() and not frames[-1].startswith(WAITS):
            yield frames, int(count)


def shares(path: Path) -> tuple[int, Counter, Counter]:
    """Samples not waiting, and each function's count among them: inclusive, and alone."""
    inclusive, alone, total = Counter(), Counter(), 0
    for frames, count in samples(path):
        total += count
        inclusive.update(dict.fromkeys(frames, count))
        alone[frames[-1]] += count
    return total, inclusive, alone


# Each process's samples by part, for the overview: a sample counts for the first part one of its
# functions begins with (the table writes before the stateful step that makes them).
PARTS = {
    "worker": {
        "table writes and their changelog records": ("Cached.__setitem__", "ProducerBuffer", "Producer.flush",
                                                     "Collection.send_changelog", "Collection._on_changelog_sent"),
        "the stateful step, less its table writes": ("Signals.process", "Signals.expire", "ReleaseWatch"),
        "sending (agents._send, the producer's sender)": ("_send (agents.py)", "Sender.", "SendProduceReqHandler",
                                                         "AIOKafkaProducer", "Topic._on_published"),
        "consuming (Faust's fetcher, conductor, streams)": ("Fetcher.", "Consumer._drain", "Conductor.",
                                                            "Stream._c_aiter", "Stream.events", "Stream._passive"),
        "parsing and writing posts (pydantic)": ("BaseModel.",),
    },
    "sink": {
        "reading Kafka (with its network thread)": ("KafkaConsumer.poll", "NetworkSelector"),
        "validating records": ("BaseModel.model_validate_json",),
        "encoding the bulk lines": ("Route.lines", "NdjsonSerializer.dumps"),
        "the bulk request": ("Elasticsearch.bulk",),
        "committing": ("BatchSink._commit",),
    },
}  # fmt: skip


def by_part(path: Path, parts: dict[str, tuple[str, ...]]) -> dict[str, float]:
    """Each part's share of the samples not waiting, and the rest's."""
    counts, total = dict.fromkeys([*parts, "the rest"], 0), 0
    for frames, count in samples(path):
        total += count
        part = next((p for p, starts in parts.items() if any(f.startswith(starts) for f in frames)), "the rest")
        counts[part] += count
    return {part: 100 * n / max(total, 1) for part, n in counts.items()}


def print_shares(name: str, path: Path, top: int) -> None:
    total, inclusive, alone = shares(path)
    print(f"\n{name}: {total} samples holding the GIL ({path})")
    print("  by part:")
    for part, share in by_part(path, PARTS[name]).items():
        print(f"  {share:5.1f} %  {part}")
    for title, counts in (("with callees", inclusive), ("alone", alone)):
        print(f"  {title}:")
        # What nearly every sample passes through (the event loop, the command line) says nothing.
        shown = [(f, n) for f, n in counts.most_common() if n < EVERYWHERE * total][:top]
        for function, n in shown:
            print(f"  {100 * n / max(total, 1):5.1f} %  {function}")


def record(pids: dict[str, int], seconds: int, out: Path) -> dict[str, Path]:
    """py-spy on each process at once, for ``seconds``; the raw profile of each."""
    paths = {name: out / f"{name}.txt" for name in pids}
    spies = [subprocess.Popen([PY_SPY, "record", "--gil", "-r", str(RATE_HZ), "-d", str(seconds), "-f", "raw",
                               "-o", str(paths[name]), "-p", str(pid)], stdout=subprocess.DEVNULL)
             for name, pid in pids.items()]  # fmt: skip
    for spy in spies:
        spy.wait()
    return paths


def profile(pipe: Pipeline, texts: dict[str, list[str]], n: int, seconds: int, out: Path) -> dict[str, Path]:
    pipe.init()
    pipe.start("sink")
    pipe.start("worker")
    pipe.wait_assigned(["worker"])
    pipe.publish(pipe.new_posts(texts, WARM_UP_POSTS, "warmup"))
    pipe.wait_count(WARM_UP_POSTS, "warm-up")
    records = [(p.id.encode(), p.model_dump_json().encode()) for p in pipe.new_posts(texts, n, "profile")]
    pids = {name: pipe.procs[name].pid for name in ("worker", "sink")}
    processes = {name: [psutil.Process(pid)] for name, pid in pids.items()}
    began = {name: cpu_s(p) for name, p in processes.items()}
    threading.Thread(target=pipe.publish, args=(records,), daemon=True).start()
    time.sleep(3)
    paths = record(pids, seconds, out)
    pipe.wait_count(WARM_UP_POSTS + n, f"{n} posts")
    for name, p in processes.items():
        print(f"{name}: {(cpu_s(p) - began[name]) * 1000 / n:.2f} ms of CPU per post over the {n} posts")
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=8_000, help="the backlog; enough to outlast --seconds")
    parser.add_argument("--seconds", type=int, default=60, help="how long py-spy records")
    parser.add_argument("--top", type=int, default=40, help="functions printed per list")
    parser.add_argument("--out", type=Path, default=Path("/tmp/canyu-profile"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    pipe = Pipeline(Settings(), args.out, 0)
    try:
        paths = profile(pipe, read_texts(args.data)[0], args.posts, args.seconds, args.out)
    finally:
        pipe.stop()
        pipe.forget()
    for name, path in paths.items():
        print_shares(name, path, args.top)


if __name__ == "__main__":
    main()
