"""Calibrated heads: temperature scaling, the expected calibration error, what the heads carry."""

import json

import numpy as np
import pytest

from models.calibration import ece, fit_temperature, nll
from models.heads import LinearHead
from models.offline import heads_dir


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


def test_the_temperature_survives_save_and_load_and_keeps_the_decisions(tmp_path):
    head = LinearHead(["a", "b"], np.array([[1.0, -1.0]] * 4), np.zeros(2), temperature=2.5)
    head.save(tmp_path / "h.npz")
    loaded = LinearHead.load(tmp_path / "h.npz")
    assert loaded.temperature == pytest.approx(2.5)
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    sharp = LinearHead(["a", "b"], head.weights, head.bias)
    assert (loaded.proba(x, []).argmax(1) == sharp.proba(x, []).argmax(1)).all()
    assert np.abs(loaded.proba(x, []) - 0.5).max() < np.abs(sharp.proba(x, []) - 0.5).max()


@pytest.mark.parametrize("folder", ["", "e5"])
def test_shipped_heads_are_calibrated_and_carry_the_sha256_of_their_data(folder):
    path = heads_dir() / folder
    if not (path / "manifest.json").is_file():
        pytest.skip(f"no heads in {path}")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["data"] and all(len(h) == 64 for h in manifest["data"].values())
    for name in ("sentiment_zh", "sentiment_ko", "sentiment_en", "sentiment_multi", "intent"):
        head = LinearHead.load(path / f"{name}.npz")
        assert 0.25 <= head.temperature <= 8.0
    chosen = manifest["chosen_on_validation"]
    assert set(chosen) >= {"zh", "ko", "en", "multi", "intent"}
