"""Encoder vectors of the dev sets, cached on disk so that each text is encoded once.

Training (``training/train.py``) and the benchmarks (``bench/``) encode the same splits
with the same encoders; a cache folder (``--cache``, e.g. ``/tmp/canyu-vectors``) keeps
each split's vectors under a hash of the encoder's name and the texts, so a changed
split is re-encoded and an unchanged one is read back.

    python -m training.vectors --data ../shared/data --cache /tmp/canyu-vectors [--e5]

encodes every split ahead of time (with progress), which is the slow part of training.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

CHUNK = 1024


def cached_encode(encoder, texts: Sequence[str], cache: Path | None, label: str = "") -> np.ndarray:
    """``encoder.encode(texts)``, read from or written to ``cache`` when given."""
    digest = hashlib.sha256(encoder.name.encode())
    for t in texts:
        digest.update(t.encode("utf-8", "replace") + b"\0")
    path = cache / f"{encoder.name}-{digest.hexdigest()[:24]}.npy" if cache else None
    if path is not None and path.is_file():
        return np.load(path)
    began, parts = time.perf_counter(), []
    for start in range(0, len(texts), CHUNK):
        parts.append(encoder.encode(list(texts[start : start + CHUNK])))
        done = min(start + CHUNK, len(texts))
        if len(texts) > CHUNK:
            rate = done / (time.perf_counter() - began)
            print(f"  {encoder.name} {label}: {done}/{len(texts)} ({rate:.0f}/s)", file=sys.stderr, flush=True)
    vectors = np.vstack(parts) if parts else np.zeros((0, encoder.dim), dtype=np.float32)
    if path is not None:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
    return vectors


def split_vectors(encoder, split, cache: Path | None) -> dict[str, np.ndarray]:
    """{"train", "val", "test"}: the vectors of each part of a ``training.devdata.Split``."""
    return {
        part: cached_encode(encoder, [e.text for e in getattr(split, part)], cache, f"{split.name} {part}")
        for part in ("train", "val", "test")
    }


def main(argv: list[str] | None = None) -> None:
    from models.encoder import E5Encoder, Encoder
    from training.devdata import E5_SUBSAMPLE, VECTOR_SUBSAMPLE, load_splits, subsample

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--e5", action="store_true", help="also the e5 subsample (training.devdata.E5_SUBSAMPLE)")
    parser.add_argument("--only-e5", action="store_true")
    args = parser.parse_args(argv)
    splits = load_splits(args.data)
    if not args.only_e5:
        use = Encoder()
        for s in splits:
            split_vectors(use, subsample(s, VECTOR_SUBSAMPLE), args.cache)
            print(f"use-m3 {s.name} done", flush=True)
    if args.e5 or args.only_e5:
        e5 = E5Encoder()
        for s in splits:
            split_vectors(e5, subsample(s, E5_SUBSAMPLE), args.cache)
            print(f"e5 {s.name} done", flush=True)


if __name__ == "__main__":
    main()
