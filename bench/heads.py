"""Which sentiment head: the encoder vector, character n-grams, both, or a blend.

    python -m bench.heads --data ../shared/data [--zh-train 8000]

Fits each alternative on the training side of the ``models.devdata`` splits and
scores it on the held-out side (zh, ko: positive v negative accuracy; en: 3-class
macro-recall), with logistic regression as in ``models/train.py``. The zh training
side is subsampled (seeded) to keep the run to minutes on two cores. Needs the
``train`` extra. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from models.devdata import SEED, load_splits
from models.encoder import Encoder
from models.features import ngrams
from models.train import MIN_DF, _logistic

SENTIMENT_C = 1.0  # the first heads' setting
BLEND = 0.3  # share of the vector head's log-probabilities in the blend


def score(name: str, classes: list[str], p: np.ndarray, gold: list[str]) -> float:
    gold = np.array(gold)
    if name in ("zh", "ko"):
        pos, neg = p[:, classes.index("positive")], p[:, classes.index("negative")]
        return float(np.mean(np.where(pos >= neg, "positive", "negative") == gold))
    predicted = np.array(classes)[p.argmax(axis=1)]
    return float(np.mean([np.mean(predicted[gold == c] == c) for c in sorted(set(gold))]))


def main(argv: list[str] | None = None) -> None:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--zh-train", type=int, default=8000, help="zh training rows drawn (seeded)")
    args = parser.parse_args(argv)

    encoder = Encoder()
    splits = {s.name: s for s in load_splits(args.data) if s.name in ("zh", "ko", "en")}
    rng = random.Random(SEED)
    print(f"{'set':<4}{'vector':>10}{'n-grams':>10}{'both':>10}{'blend':>10}   (held-out rows)")
    for name, split in splits.items():
        train = split.train if name != "zh" else rng.sample(split.train, min(args.zh_train, len(split.train)))
        y, gold = [e.label for e in train], [e.label for e in split.test]
        v_train, v_test = encoder.encode([e.text for e in train]), encoder.encode([e.text for e in split.test])
        tfidf = TfidfVectorizer(analyzer=ngrams, min_df=MIN_DF, sublinear_tf=True, dtype=np.float32)
        g_train, g_test = tfidf.fit_transform([e.text for e in train]), tfidf.transform([e.text for e in split.test])
        vector = _logistic(v_train, y, SENTIMENT_C)
        grams = _logistic(g_train, y, SENTIMENT_C)
        both = _logistic(sp.hstack([sp.csr_matrix(v_train), g_train]).tocsr(), y, SENTIMENT_C)
        classes = vector.classes_.tolist()
        p_vector, p_grams = vector.predict_proba(v_test), grams.predict_proba(g_test)
        p_both = both.predict_proba(sp.hstack([sp.csr_matrix(v_test), g_test]).tocsr())
        p_blend = np.exp(BLEND * np.log(p_vector + 1e-9) + (1 - BLEND) * np.log(p_grams + 1e-9))
        cells = [score(name, classes, p, gold) for p in (p_vector, p_grams, p_both, p_blend)]
        print(f"{name:<4}" + "".join(f"{c:>10.3f}" for c in cells) + f"   ({len(gold)}; trained on {len(train)})")


if __name__ == "__main__":
    main()
