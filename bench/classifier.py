"""Classifier throughput: posts/s at batch sizes 1, 8, 32 and 128, and peak memory.

    python -m bench.classifier [--backends offline,lexicon] [--posts 256]

Each backend runs in its own process, so that its peak resident memory (which
includes the model) is its own. Posts are the built-in sample corpus (short
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

BATCH_SIZES = (1, 8, 32, 128)
BASELINE = "lexicon"


def sample_posts(n: int) -> list[str]:
    lines = (resources.files("canyu") / "sample" / "posts.jsonl").read_text(encoding="utf-8").splitlines()
    return list(islice(cycle(json.loads(line)["text"] for line in lines if line.strip()), n))


def measure(backend: str, n_posts: int, queue) -> None:
    from models import load_classifier

    began = time.perf_counter()
    clf = load_classifier(backend)
    load_s = time.perf_counter() - began
    posts = sample_posts(n_posts)
    clf.classify(posts[:8])  # warm up lazily loaded parts
    rates = {}
    for size in BATCH_SIZES:
        began = time.perf_counter()
        for start in range(0, len(posts), size):
            clf.classify(posts[start : start + size])
        rates[size] = len(posts) / (time.perf_counter() - began)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    queue.put({"backend": clf.name, "load_s": load_s, "rates": rates, "peak_mib": peak_mib})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="offline,lexicon", help="comma-separated load_classifier names")
    parser.add_argument("--posts", type=int, default=256, help="posts per batch size")
    args = parser.parse_args(argv)

    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    if BASELINE not in names:
        names.append(BASELINE)
    context = multiprocessing.get_context("spawn")
    results = {}
    for name in names:
        queue = context.Queue()
        process = context.Process(target=measure, args=(name, args.posts, queue))
        process.start()
        process.join()
        if process.exitcode != 0:
            print(f"{name}: failed (exit {process.exitcode}); is it available offline?")
            continue
        results[name] = queue.get()

    print(f"{args.posts} sample posts per batch size; posts/s (ratio to {BASELINE} in this run)")
    header = "".join(f"{'batch ' + str(s):>20}" for s in BATCH_SIZES)
    print(f"{'backend':<28}{header}{'peak MiB':>10}{'load s':>8}")
    base = results.get(BASELINE)
    for r in results.values():
        cells = []
        for size in BATCH_SIZES:
            ratio = f" ({r['rates'][size] / base['rates'][size]:.2f}x)" if base else ""
            cells.append(f"{r['rates'][size]:.1f}{ratio}")
        print(f"{r['backend']:<28}" + "".join(f"{c:>20}" for c in cells) + f"{r['peak_mib']:>10.0f}{r['load_s']:>8.1f}")


if __name__ == "__main__":
    main()
