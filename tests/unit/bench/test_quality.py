"""bench.quality's left-out fine-tunings: each is matched to the cross-dataset test it was trained without."""

from __future__ import annotations

import json

import pytest

from bench import quality


def model_folder(tmp_path, name: str, leave_out: list[str]):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"settings": {"leave_out": leave_out, "epochs": 2}}))
    return folder


def test_a_left_out_model_is_keyed_by_the_sets_its_manifest_says_it_was_trained_without(tmp_path, monkeypatch):
    loaded = []
    monkeypatch.setattr("models.finetuned.FinetunedClassifier", lambda folder: loaded.append(folder) or folder.name)
    panichella = model_folder(tmp_path, "lo-panichella", ["intent/panichella"])
    tweets = model_folder(tmp_path, "lo-tweets", ["en/cf_apple", "en/cf_brands", "en/sanders"])
    models = quality.load_left_out_finetuned([panichella, tweets])
    assert models == {
        frozenset({"intent/panichella"}): "lo-panichella",
        frozenset({"en/sanders", "en/cf_brands", "en/cf_apple"}): "lo-tweets",
    }
    assert loaded == [panichella, tweets]
    # the keys are what the cross-dataset loop looks them up by
    assert {frozenset(left_out) for _, left_out, _ in quality.CROSS} >= set(models)


def test_a_model_trained_on_every_set_is_refused_for_the_cross_dataset_tests(tmp_path):
    with pytest.raises(SystemExit, match="fine-tuned on every set"):
        quality.load_left_out_finetuned([model_folder(tmp_path, "all", [])])
