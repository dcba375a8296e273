"""The encoder's mean sentence vector in each language, over the training texts of ``shared/data``.

USE's vectors of one language share a direction whatever the text says, so a Chinese and
a Korean report of one bug are less alike than their meaning is. The worker compares
feedback after taking each language's centre away (``streams.recent.Centres``), and these
means are where the centres start. Only where they start: each is as much the mean of its
corpora's topics (films in Korean, shopping and Weibo in Chinese, tweets and phone reviews
in English) as of its language, so the centres move towards the mean of the feedback the
stream itself holds (docs/streams.md, "Grouping across languages", measures both).

The file ``models/heads/language_means.npz`` ships with the package; nothing at run time
reads ``shared/data``. To compute it again (seeded, so the same data gives the same means):

    python -m models.language_means --data ../shared/data [--cache /tmp/canyu-vectors]

Each language's mean is over ``PER_SET`` training texts of each of its sets (so that no
one set outweighs the others); ``OTHER`` (every language without data of its own) gets
the mean of the three.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LANGUAGES = ("zh", "ko", "en")
OTHER = "*"
PER_SET = 500
FILE = Path(__file__).parent / "heads" / "language_means.npz"


@dataclass(frozen=True)
class LanguageMeans:
    encoder: str  # the encoder whose vectors these are the means of
    languages: tuple[str, ...]  # the last is OTHER
    means: np.ndarray  # (len(languages), dim), float32

    def row(self, language: str) -> int:
        """The row of ``language``'s mean: its own, or OTHER's."""
        try:
            return self.languages.index(language)
        except ValueError:
            return len(self.languages) - 1


def load_language_means(path: Path = FILE) -> LanguageMeans:
    with np.load(path, allow_pickle=False) as z:
        languages = tuple(z["languages"].tolist())
        if languages[-1] != OTHER:
            raise ValueError(f"{path}: the last language must be {OTHER!r}, for every language without its own")
        return LanguageMeans(str(z["encoder"]), languages, z["means"].astype(np.float32))


def compute(data: Path, cache: Path | None = None) -> tuple[LanguageMeans, dict[str, int]]:
    """The means over the training side of ``data``'s splits, and how many texts each is over."""
    from models.devdata import SEED, load_splits
    from models.encoder import Encoder
    from models.vectors import cached_encode

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
    parser.add_argument("--cache", type=Path, default=None, help="a folder for the encoded texts (models.vectors)")
    parser.add_argument("--out", type=Path, default=FILE)
    args = parser.parse_args(argv)
    means, counts = compute(args.data, args.cache)
    save(means, counts, args.out)
    print(f"{args.out}: {means.encoder} means of {', '.join(f'{k} ({n} texts)' for k, n in counts.items())}")


if __name__ == "__main__":
    main()
