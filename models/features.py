"""Character n-grams: what the sentence encoder smooths away, kept as sparse counts.

USE multilingual averages meaning over the sentence and is weak on the short, sharp
cues of reviews ("差评", "별로", "meh"). Character 1-3-grams need no word
segmentation, so they work the same for Chinese, Korean and English. Training
(``training/train.py``) fits the vocabulary and idf; inference needs only numpy.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

ORDERS = (1, 2, 3)
MAX_CHARS = 512  # the same beginning the encoder reads
_SPACES = re.compile(r"\s+")


def _fold(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower()).strip()


def ngrams(text: str) -> list[str]:
    """Character 1-3-grams of the NFKC-folded, lower-cased text, padded with a space at each end."""
    text = " " + _fold(text) + " "
    return [text[i : i + n] for n in ORDERS for i in range(len(text) - n + 1)]


def ngrams14(text: str) -> list[str]:
    """Character 1-4-grams, as ``ngrams``."""
    text = " " + _fold(text) + " "
    return [text[i : i + n] for n in (1, 2, 3, 4) for i in range(len(text) - n + 1)]


def word_ngrams14(text: str) -> list[str]:
    """Whitespace-aware: character 1-4-grams inside each space-padded word, never across words.

    Korean writes words (eojeol) between spaces, a stem and its particles in one; n-grams
    that stop at the space keep "별로" and "별로다" apart from the next word. Hangul
    syllables are kept whole (no jamo). Whole words longer than 4 characters are added.
    """
    out = []
    for word in _fold(text).split(" "):
        if not word:
            continue
        padded = " " + word + " "
        out += [padded[i : i + n] for n in (1, 2, 3, 4) for i in range(len(padded) - n + 1) if padded[i : i + n] != " "]
        if len(padded) > 5:
            out.append(padded)
    return out


def char_words(text: str) -> list[str]:
    """Character 1-3-grams (``ngrams``) and whitespace-separated words, marked apart."""
    return ngrams(text) + ["\x01" + w for w in _fold(text).split(" ") if w]


# By the name stored in a head's file (models/heads.py); "char13" is the default.
ANALYZERS = {"char13": ngrams, "char14": ngrams14, "wb14": word_ngrams14, "char13w": char_words}


class NgramFeatures:
    """Sublinear tf-idf over a fixed vocabulary, L2-normalised per text (as scikit-learn's TfidfVectorizer)."""

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray, analyzer: str = "char13") -> None:
        self.vocabulary = list(vocabulary)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.analyzer = analyzer
        self._grams = ANALYZERS[analyzer]
        self._index = {gram: i for i, gram in enumerate(self.vocabulary)}

    def rows(self, texts: Iterable[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per text, the (column indices, values) of its non-zero features."""
        out = []
        for text in texts:
            counts = Counter(i for g in self._grams(text) if (i := self._index.get(g)) is not None)
            cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))) * self.idf[cols]
            norm = float(np.linalg.norm(values))
            out.append((cols, values / norm if norm else values))
        return out
