"""The encoder's mean sentence vector in each language, as the package ships it.

USE's vectors of one language share a direction whatever the text says, so a Chinese and
a Korean report of one bug are less alike than their meaning is. The worker compares
feedback after taking each language's centre away (``streams.recent.Centres``), and these
means are where the centres start. Only where they start: each is as much the mean of its
corpora's topics (films in Korean, shopping and Weibo in Chinese, tweets and phone reviews
in English) as of its language, so the centres move towards the mean of the feedback the
stream itself holds (docs/streams.md, "Grouping across languages", measures both).

The file ``models/heads/language_means.npz`` ships with the package; nothing at run time
reads ``shared/data``. ``python -m training.language_means`` computes it again from the dev
sets (in a source checkout); ``OTHER`` (every language without data of its own) is its last row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

OTHER = "*"
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
