"""Fitting a head's temperature, and the expected calibration error (training/calibration.py)."""

import numpy as np
import pytest

from training.calibration import ece, fit_temperature, nll


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    # 10 rows at confidence 0.8, 8 of them right
    p = np.tile([0.8, 0.2], (10, 1))
    gold = np.array([0] * 8 + [1] * 2)
    assert ece(p, gold) == pytest.approx(0.0)
    overconfident = np.tile([0.99, 0.01], (10, 1))
    assert ece(overconfident, gold) == pytest.approx(0.19)


def test_fit_temperature_undoes_a_known_sharpening():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3)) * 1.5
    p = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    gold = np.array([rng.choice(3, p=row) for row in p])
    t = fit_temperature(true_logits * 2.0, gold)  # twice too sharp
    assert t == pytest.approx(2.0, rel=0.1)
    assert nll(true_logits * 2.0, gold, t) < nll(true_logits * 2.0, gold, 1.0)


def test_a_mask_scores_a_binary_row_over_its_two_labels_only():
    logits = np.array([[2.0, 5.0, 1.0]])  # neutral would win
    mask = np.array([[True, False, True]])
    assert nll(logits, np.array([0]), 1.0, mask=mask) == pytest.approx(np.log1p(np.exp(-1.0)))
