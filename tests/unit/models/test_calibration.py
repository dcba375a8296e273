"""Calibrated heads: the temperature a head carries, and the shipped heads' (fitted by ``training.calibration``)."""

import json

import numpy as np
import pytest

from models.heads import LinearHead
from models.offline import heads_dir


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
