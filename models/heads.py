"""Linear heads: softmax over the encoder's vector and, optionally, character n-grams.

A head is one small ``.npz`` file in ``models/heads/``, written by ``training/train.py``
and read here with numpy alone: class names, weights and bias, and for heads with
n-gram features, their vocabulary, idf and weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.features import NgramFeatures


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class LinearHead:
    def __init__(
        self,
        classes: Sequence[str],
        weights: np.ndarray,
        bias: np.ndarray,
        ngrams: NgramFeatures | None = None,
        ngram_weights: np.ndarray | None = None,
        temperature: float = 1.0,
    ) -> None:
        self.classes = tuple(classes)
        self.weights = np.asarray(weights, dtype=np.float32)  # (encoder dim, classes)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.ngrams = ngrams
        self.ngram_weights = None if ngram_weights is None else np.asarray(ngram_weights, dtype=np.float32)
        # Calibration, fitted by training/calibration.py: probabilities are softmax(logits / temperature).
        self.temperature = float(temperature)

    def logits(self, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Before calibration."""
        logits = vectors @ self.weights + self.bias
        if self.ngrams is not None:
            for row, (cols, values) in enumerate(self.ngrams.rows(texts)):
                logits[row] += values @ self.ngram_weights[cols]
        return logits

    def proba(self, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.logits(vectors, texts) / self.temperature)

    def save(self, path: Path) -> None:
        arrays = {
            "classes": np.array(self.classes),
            "weights": self.weights,
            "bias": self.bias,
            "temperature": np.array(self.temperature, dtype=np.float32),
        }
        if self.ngrams is not None:
            arrays |= {
                "vocabulary": np.array(self.ngrams.vocabulary),
                "idf": self.ngrams.idf,
                "analyzer": np.array(self.ngrams.analyzer),
                "ngram_weights": self.ngram_weights.astype(np.float16),
            }
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        with np.load(path, allow_pickle=False) as z:
            analyzer = str(z["analyzer"]) if "analyzer" in z else "char13"
            ngrams = NgramFeatures(z["vocabulary"].tolist(), z["idf"], analyzer) if "vocabulary" in z else None
            return cls(
                z["classes"].tolist(),
                z["weights"],
                z["bias"],
                ngrams,
                z["ngram_weights"] if ngrams is not None else None,
                float(z["temperature"]) if "temperature" in z else 1.0,
            )
