"""Compute the encoder's mean sentence vector in each language (``models/language_means.py``
says what the worker does with them) from the training texts of ``shared/data``.

    python -m training.language_means --data ../shared/data [--cache /tmp/canyu-vectors]

writes ``models/heads/language_means.npz``, which ships with the package (seeded, so the same
data gives the same means). Each language's mean is over ``PER_SET`` training texts of each of
its sets (so that no one set outweighs the others); ``OTHER`` (every language without data of
its own) gets the mean of the three.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from models.encoder import Encoder
from models.language_means import FILE, OTHER, LanguageMeans
from training.devdata import SEED, load_splits
from training.vectors import cached_encode

LANGUAGES = ("zh", "ko", "en")
PER_SET = 500


def compute(data: Path, cache: Path | None = None) -> tuple[LanguageMeans, dict[str, int]]:
    """The means over the training side of ``data``'s splits, and how many texts each is over."""
    encoder = Encoder()
    texts: dict[str, list[str]] = {language: [] for language in LANGUAGES}
    for split in load_splits(data):
        if split.language in texts:
            rows = [e.text for e in split.train]
            texts[split.language] += random.Random(f"{SEED}:{split.name}:means").sample(rows, min(PER_SET, len(rows)))
    means = []
    for language in LANGUAGES:
        if not texts[language]:
            raise ValueError(f"no training text in {language!r} under {data}")
        means.append(cached_encode(encoder, texts[language], cache, f"{language} means").mean(axis=0))
    means.append(np.mean(means, axis=0))
    counts = {language: len(texts[language]) for language in LANGUAGES}
    return LanguageMeans(encoder.name, (*LANGUAGES, OTHER), np.array(means, dtype=np.float32)), counts


def save(means: LanguageMeans, counts: dict[str, int], path: Path = FILE) -> None:
    np.savez_compressed(
        path,
        encoder=np.array(means.encoder),
        languages=np.array(means.languages),
        means=means.means,
        texts=np.array([counts.get(language, 0) for language in means.languages]),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=None, help="a folder for the encoded texts (training.vectors)")
    parser.add_argument("--out", type=Path, default=FILE)
    args = parser.parse_args(argv)
    means, counts = compute(args.data, args.cache)
    save(means, counts, args.out)
    print(f"{args.out}: {means.encoder} means of {', '.join(f'{k} ({n} texts)' for k, n in counts.items())}")


if __name__ == "__main__":
    main()
