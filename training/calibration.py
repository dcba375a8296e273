"""Calibrated confidence: temperature scaling, and the expected calibration error.

A head's probabilities are ``softmax(logits / T)``; ``T`` is fitted on validation data
carved from the training side (never the test splits) by minimising the negative
log-likelihood of the gold labels (Guo et al., 2017), with the lexicon's cue nudges
added as the classifier adds them, and a positive v negative set's rows scored over
those two labels. One number per head: it keeps the head's decisions (the argmax) and
only makes its confidence honest. Numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BINS = 15
TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 161))  # the grid searched, about 2% apart


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def nll(logits: np.ndarray, gold: np.ndarray, temperature: float, offsets=None, mask=None) -> float:
    """Mean negative log-likelihood of ``gold`` (column indices) under ``softmax(logits / T + offsets)``.

    ``offsets``: what is added after calibration (the lexicon's cue nudges), so that the
    probabilities the classifier reports are the calibrated ones. ``mask``: the columns
    each row's set can be right about (a positive v negative set: those two), renormalised over.
    """
    z = logits / temperature + (0.0 if offsets is None else offsets)
    if mask is not None:
        z = np.where(mask, z, -np.inf)
    return float(-_log_softmax(z)[np.arange(len(gold)), gold].mean())


def fit_temperature(logits: np.ndarray, gold: np.ndarray, offsets=None, mask=None) -> float:
    """The temperature on ``TEMPERATURES`` with the least validation NLL (1.0 with no rows)."""
    if not len(gold):
        return 1.0
    losses = [nll(logits, gold, t, offsets, mask) for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def ece(proba: np.ndarray, gold: Sequence[int], bins: int = BINS) -> float:
    """Expected calibration error of the top label: sum over equal-width confidence bins of
    |accuracy - mean confidence| weighted by the bin's share of rows."""
    proba = np.asarray(proba)
    if not len(proba):
        return 0.0
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(gold)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)
