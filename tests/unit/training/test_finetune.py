"""What ``python -m training.finetune`` trains on: rows, weights, batches (training/finetune.py).

The data selection is checked on small made-up splits; on the real dev sets where
``../shared/data`` is present (skipped otherwise). Training itself needs torch and minutes:
it is exercised by ``canyu models build``, not here.
"""

import random
from pathlib import Path

import numpy as np
import pytest

from training.devdata import Example, Split, load_splits
from training.finetune import INTENTS, SENTIMENTS, Settings, batches, row_weights, rows_of, select

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"


def split(name, task, labels, n=40, binary=False):
    rows = [Example(f"{name} text {i}", labels[i % len(labels)], f"g{i}") for i in range(n)]
    test = [Example(f"{name} test {i}", labels[i % len(labels)], f"t{i}") for i in range(10)]
    if binary:
        test = [e for e in test if e.label != "neutral"]
    return Split(name, task, rows, test, rows[:10], "en")


def test_rows_follow_the_heads_label_mappings():
    polar = split("en/p", "sentiment", ["negative", "positive", "neutral"], binary=True)
    rows = rows_of(polar, "train")
    assert all(r.polar and SENTIMENTS[r.label] != "neutral" for r in rows)  # a binary set has no neutral answer
    three = rows_of(split("en/t", "sentiment", ["negative", "neutral", "positive"]), "train")
    assert {SENTIMENTS[r.label] for r in three} == set(SENTIMENTS) and not any(r.polar for r in three)
    intent = rows_of(split("intent/x", "intent", ["bug_report", "other"]), "train")
    assert {INTENTS[r.label] for r in intent} == {"bug_report", "other"} and all(r.task == 1 for r in intent)


def test_selection_caps_each_set_and_keeps_left_out_sets_out():
    splits = [
        split("en/a", "sentiment", ["negative", "neutral", "positive"], n=90),
        split("en/b", "sentiment", ["negative", "positive"], n=30),
        split("intent/c", "intent", ["bug_report", "feature_request", "other"], n=60),
    ]
    settings = Settings(per_set=30, intent_per_set=20, val_per_set=5, leave_out=("en/b",))
    train, val = select(splits, settings)
    counts = {name: sum(r.dataset == name for r in train) for name in ("en/a", "en/b", "intent/c")}
    assert counts == {"en/a": 30, "en/b": 0, "intent/c": 21}  # label shares kept: 3 x round(20 / 3)
    assert all(r.dataset != "en/b" for r in val) and 0 < sum(r.dataset == "en/a" for r in val) <= 6  # 3 x round(5/3)
    # a 3-class set keeps its neutral rows, though the subsample has no test rows to tell it by
    assert {SENTIMENTS[r.label] for r in train if r.dataset == "en/a"} == set(SENTIMENTS)
    assert not any(r.polar for r in train if r.dataset == "en/a")
    assert select(splits, settings) == (train, val)  # seeded


def test_every_set_and_label_weighs_the_same():
    splits = [
        split("en/a", "sentiment", ["negative", "positive", "positive", "positive"], n=80),
        split("en/b", "sentiment", ["negative", "neutral", "positive"], n=20),
        split("intent/c", "intent", ["bug_report", "other"], n=30),
    ]
    train, _ = select(splits, Settings(per_set=100, intent_per_set=100))
    w = row_weights(train)
    assert w.mean() == pytest.approx(1.0)
    total = {}
    for r, weight in zip(train, w, strict=True):
        total[(r.dataset, r.label)] = total.get((r.dataset, r.label), 0) + weight
    a = [v for (d, _), v in total.items() if d == "en/a"]
    b = [v for (d, _), v in total.items() if d == "en/b"]
    assert np.allclose(a, a[0]) and np.allclose(b, b[0])  # labels weigh the same within a set
    assert sum(a) == pytest.approx(sum(b))  # and sets the same within a task


def test_batches_cover_every_row_once_with_similar_lengths():
    rng = random.Random(0)
    lengths = [rng.randint(3, 64) for _ in range(1000)]
    got = batches(lengths, 32, random.Random(1))
    flat = sorted(i for b in got for i in b)
    assert flat == list(range(1000)) and all(len(b) <= 32 for b in got)
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in got])
    assert spread < 10  # sorted within pools: little padding
    assert got != batches(lengths, 32, random.Random(2))  # shuffled by the seed


@pytest.mark.skipif(not DATA.is_dir(), reason="no ../shared/data")
def test_on_the_dev_sets_validation_comes_from_the_training_side_and_test_rows_stay_out():
    splits = load_splits(DATA)
    train, val = select(splits, Settings())
    # Drawn from each set's own training side (devdata's groups keep the test side apart; the same
    # review can stand under two products, so a text alone does not tell).
    train_texts = {(s.name, e.text) for s in splits for e in s.train}
    assert all((r.dataset, r.text) in train_texts for r in train)
    by_set = {s.name: s for s in splits}
    for name in {r.dataset for r in train}:
        n = sum(r.dataset == name for r in train)
        cap = Settings().per_set if by_set[name].task == "sentiment" else Settings().intent_per_set
        assert 0 < n <= cap + 3  # each label's share rounded
    val_texts = {(s.name, e.text) for s in splits for e in s.val}
    assert all((r.dataset, r.text) in val_texts for r in val)
