"""training/train.py end to end on a miniature of shared/data, and the real splits when present."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from models.heads import LinearHead  # noqa: E402
from models.offline import OfflineClassifier  # noqa: E402
from training.devdata import ZH_TEST_CATEGORIES, load_splits  # noqa: E402
from training.train import main as train  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
GOOD = {"zh": "很好，非常满意，推荐", "ko": "정말 좋아요 최고", "en": "I love it, great"}
BAD = {"zh": "太差了，很失望，退货", "ko": "최악이에요 실망", "en": "terrible, I hate it"}


def miniature(root: Path) -> Path:
    for folder in ("zh", "ko", "en", "intent"):
        (root / folder).mkdir(parents=True)
    with open(root / "zh/online_shopping_9_cats.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cat", "label", "review"])
        for cat in ("书籍", "水果", *ZH_TEST_CATEGORIES):
            for i in range(4):
                w.writerow([cat, 1, f"{GOOD['zh']}{i}"])
                w.writerow([cat, 0, f"{BAD['zh']}{i}"])
    with open(root / "ko/nsmc_raw_subset.jsonl", "w", encoding="utf-8") as f:
        for film in range(10):
            for rating, text in ((10, GOOD["ko"]), (1, BAD["ko"]), (6, "그냥 그래요")):
                f.write(json.dumps({"review": f"{text} {film}", "rating": str(rating), "movie_id": str(film)}) + "\n")
    (root / "en/tweeteval_sentiment_mapping.txt").write_text("0\tnegative\n1\tneutral\n2\tpositive\n")
    tweets = [(BAD["en"], 0), ("it is a phone", 1), (GOOD["en"], 2)] * 5
    (root / "en/tweeteval_sentiment_val_text.txt").write_text("".join(f"{t} {i}\n" for i, (t, _) in enumerate(tweets)))
    (root / "en/tweeteval_sentiment_val_labels.txt").write_text("".join(f"{y}\n" for _, y in tweets))
    with open(root / "intent/panichella_review_intents.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "review", "class"])
        rows = [("the app crashes", "problem discovery"), ("please add a dark mode", "feature request"),
                ("how do I export?", "information seeking"), ("I use it every day", "information giving")]  # fmt: skip
        for i in range(5):
            for text, label in rows:
                w.writerow([len(rows) * i + rows.index((text, label)), f"{text} {i}", label])
    return root


def test_train_writes_heads_that_load_and_classify(tmp_path):
    data = miniature(tmp_path / "data")
    heads, splits = tmp_path / "heads", tmp_path / "splits"
    train(["--data", str(data), "--heads", str(heads), "--splits-out", str(splits)])
    assert sorted(p.name for p in heads.iterdir()) == [
        "intent.npz", "manifest.json", "sentiment_en.npz", "sentiment_ko.npz", "sentiment_multi.npz",
        "sentiment_zh.npz",
    ]  # fmt: skip
    manifest = json.loads((heads / "manifest.json").read_text())
    assert set(manifest["data"]) >= {"zh/online_shopping_9_cats.csv", "intent/panichella_review_intents.csv"}
    zh_test = [
        json.loads(line) for line in (splits / "zh_shopping_test.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert {row["group"] for row in zh_test} == set(ZH_TEST_CATEGORIES)

    clf = OfflineClassifier(heads=heads)
    out = clf.classify([GOOD["zh"], BAD["zh"], GOOD["en"]])
    assert [c.sentiment.label for c in out] == ["positive", "negative", "positive"]
    first = LinearHead.load(heads / "sentiment_en.npz")
    train(["--data", str(data), "--heads", str(heads)])
    again = LinearHead.load(heads / "sentiment_en.npz")  # seeded: the same data gives the same heads
    assert np.array_equal(first.weights, again.weights) and np.array_equal(first.ngram_weights, again.ngram_weights)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs the dev sets in ../shared/data")
def test_the_real_test_splits_are_held_out_whole():
    for split in load_splits(SHARED_DATA):
        train_groups, test_groups = {e.group for e in split.train}, {e.group for e in split.test}
        val_groups = {e.group for e in split.val}
        assert not train_groups & test_groups, split.name
        assert not val_groups & (train_groups | test_groups), split.name
        assert split.test and split.train and split.val


def test_word_bounded_ngrams_stop_at_spaces_and_keep_hangul_syllables():
    from models.features import ANALYZERS

    grams = ANALYZERS["wb14"]("카메라 정말  좋아요")
    assert "라 정" not in grams and " 정말 " in grams and "좋아요" in grams
    assert all(len(g.strip()) <= 4 for g in grams if not (g.startswith(" ") and g.endswith(" ")))
    assert ANALYZERS["char13w"]("great phone")[-2:] == ["\x01great", "\x01phone"]


def test_a_blended_nb_head_folds_into_one_linear_head_with_the_same_probabilities(tmp_path):
    """language_head's folded weights give what the two fitted models blend to."""
    from training.devdata import Example, Split
    from training.train import fit_ngram_model, language_head, logistic

    rng = np.random.default_rng(0)
    words = {"positive": ["좋아요", "최고", "great"], "negative": ["별로", "최악", "bad"], "neutral": ["그냥", "영화"]}
    rows = [
        Example(" ".join(rng.choice(words[label], 3)) + f" {i}", label, str(i))
        for i, label in enumerate(["positive", "negative", "neutral"] * 12)
    ]
    split = Split("ko", "sentiment", rows, [])
    vectors = rng.normal(size=(len(rows), 512)).astype(np.float32)
    setting = {"analyzer": "wb14", "c": 1.0, "nb": True, "blend": 0.35, "vector_c": 0.3}
    head = language_head(split, vectors, setting)
    head.save(tmp_path / "h.npz")
    head = LinearHead.load(tmp_path / "h.npz")
    assert head.ngrams.analyzer == "wb14"

    texts = [e.text for e in rows]
    labels = [e.label for e in rows]
    grams = fit_ngram_model(texts, labels, "wb14", 1.0, True)
    vector = logistic(vectors, labels, 0.3)
    blended = np.exp(0.35 * np.log(vector.predict_proba(vectors)) + 0.65 * np.log(grams.proba(texts)))
    blended /= blended.sum(axis=1, keepdims=True)
    assert head.classes == tuple(grams.classes)
    assert np.allclose(head.proba(vectors, texts), blended, atol=2e-3)  # float16 n-gram weights
