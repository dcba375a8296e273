"""Train the offline classifier's heads from the dev sets in ``shared/data``.

    python -m models.train --data ../shared/data [--heads models/heads] [--splits-out DIR]

Needs the ``train`` extra (scikit-learn). Seeded and deterministic: the same data
gives the same heads. Trains on the training side of each split in
``models.devdata`` only, so that ``canyu eval`` on the test side (written to
``--splits-out`` as JSONL) measures the shipped heads on data they never saw.
Writes ``manifest.json`` beside the heads: the files used with their sha256, the
split sizes and the settings below.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

import numpy as np

from models.devdata import KO_MAJORITY_CAP, SEED, Split, load_splits
from models.encoder import DIM, Encoder
from models.features import ANALYZERS, NgramFeatures
from models.heads import LinearHead
from models.offline import SHARED, heads_dir

# Inverse regularisation strength and the fewest rows an n-gram must appear in.
SHARED_C = 0.3
INTENT_C = 0.3
MIN_DF = 3
SHARED_PER_SET = 6000
# Each language's sentiment head, chosen by validation inside the training side only
# (``python -m bench.sentiment_val``; MODEL_CARD.md): the n-gram analyser
# (models.features.ANALYZERS), C, NB scaling, and the share of a vector head
# (C = vector_c) in a log-probability blend (0: n-grams alone).
SENTIMENT = {
    "zh": {"analyzer": "char13w", "c": 3.0, "nb": True, "blend": 0.2, "vector_c": 1.0},
    "ko": {"analyzer": "wb14", "c": 1.0, "nb": False, "blend": 0.35, "vector_c": 0.3},
    "en": {"analyzer": "wb14", "c": 0.3, "nb": False, "blend": 0.65, "vector_c": 0.3},
}
DATA_FILES = (
    "zh/online_shopping_9_cats.csv",
    "ko/nsmc_raw_subset.jsonl",
    "en/tweeteval_sentiment_mapping.txt",
    "en/tweeteval_sentiment_val_labels.txt",
    "en/tweeteval_sentiment_val_text.txt",
    "intent/panichella_review_intents.csv",
)


def _logistic(x, y, c: float, weights=None):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(x, y, sample_weight=weights)


class NgramModel:
    """An n-gram logistic regression as fitted here, before it becomes a ``LinearHead``."""

    def __init__(self, tfidf, scale: np.ndarray, model, analyzer: str) -> None:
        self.tfidf, self.scale, self.model, self.analyzer = tfidf, scale, model, analyzer
        self.classes = model.classes_.tolist()

    def features(self, texts):
        import scipy.sparse as sp

        return self.tfidf.transform(texts) @ sp.diags(self.scale)

    def proba(self, texts) -> np.ndarray:
        return self.model.predict_proba(self.features(texts))


def nb_ratio(x, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """|log-count ratio| of each feature between positive and negative rows (Wang & Manning 2012).

    Scaling features by it before an L2-regularised fit is NB-LR; the sign is left to the
    fit, so the same scale serves a 3-class head.
    """
    binary = (x > 0).astype(np.float64)
    p = alpha + np.asarray(binary[y == "positive"].sum(axis=0)).ravel()
    q = alpha + np.asarray(binary[y == "negative"].sum(axis=0)).ravel()
    return np.abs(np.log((p / p.sum()) / (q / q.sum()))).astype(np.float32)


def fit_ngram_model(texts, labels, analyzer: str, c: float, nb: bool, polar_only: bool = False) -> NgramModel:
    """tf-idf over ``ANALYZERS[analyzer]``, optionally NB-scaled, then logistic regression.

    ``polar_only`` drops neutral rows: a positive v negative head.
    """
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    labels = np.asarray(labels)
    if polar_only:
        keep = labels != "neutral"
        texts, labels = [t for t, k in zip(texts, keep, strict=True) if k], labels[keep]
    tfidf = TfidfVectorizer(analyzer=ANALYZERS[analyzer], min_df=MIN_DF, sublinear_tf=True, dtype=np.float32)
    x = tfidf.fit_transform(texts)
    scale = nb_ratio(x, labels) if nb else np.ones(x.shape[1], dtype=np.float32)
    model = _logistic(x @ sp.diags(scale), labels, c)
    return NgramModel(tfidf, scale, model, analyzer)


def _two_sided(model) -> tuple[np.ndarray, np.ndarray]:
    """(features, classes) weights and bias; a binary model's one weight vector is split over both classes."""
    if len(model.classes_) > 2:
        return model.coef_.T, model.intercept_
    return np.hstack([-model.coef_.T, model.coef_.T]) / 2, np.array([-1, 1]) * model.intercept_[0] / 2


def language_head(split: Split, vectors: np.ndarray | None, setting: dict) -> LinearHead:
    """One language's head: n-grams (``fit_ngram_model``), blended with a vector head when set.

    The blend is of log-probabilities, ``blend`` x the vector head's plus (1 - ``blend``) x
    the n-gram head's; softmax of that is softmax of the same mix of their logits, so it
    folds into one linear head and inference is unchanged. The NB scale folds into the
    n-gram weights.
    """
    texts, labels = [e.text for e in split.train], [e.label for e in split.train]
    grams = fit_ngram_model(texts, labels, setting["analyzer"], setting["c"], setting["nb"])
    g_coef, g_bias = _two_sided(grams.model)
    g_coef = g_coef * grams.scale[:, None]
    blend = setting.get("blend", 0.0)
    if vectors is not None and blend:
        vector = _logistic(vectors, labels, setting["vector_c"])
        if vector.classes_.tolist() != grams.classes:
            raise ValueError("the vector and n-gram heads disagree on classes")
        v_coef, v_bias = _two_sided(vector)
    else:
        blend, v_coef, v_bias = 0.0, np.zeros((DIM, len(grams.classes))), 0.0
    features = NgramFeatures(grams.tfidf.get_feature_names_out().tolist(), grams.tfidf.idf_, setting["analyzer"])
    return LinearHead(
        grams.classes, blend * v_coef, blend * v_bias + (1 - blend) * g_bias, features, (1 - blend) * g_coef
    )


def vector_head(x: np.ndarray, y: list[str], c: float, weights=None) -> LinearHead:
    """The encoder vector alone: works for every language the encoder knows."""
    model = _logistic(x, y, c, weights)
    return LinearHead(model.classes_.tolist(), model.coef_.T, model.intercept_)


def language_balanced(sizes: list[int]) -> np.ndarray:
    """Sample weights that give each set the same total weight, averaging 1 per row."""
    weights = np.concatenate([np.full(n, 1.0 / n) for n in sizes])
    return weights * len(weights) / weights.sum()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_test_splits(splits: list[Split], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for split in splits:
        with open(out / f"{split.name}_test.jsonl", "w", encoding="utf-8") as f:
            for e in split.test:
                f.write(json.dumps({"text": e.text, "label": e.label, "group": e.group}, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the dev sets (shared/data)")
    parser.add_argument("--heads", type=Path, default=heads_dir(), help="where to write the heads")
    parser.add_argument("--splits-out", type=Path, help="also write each held-out test split here as JSONL")
    args = parser.parse_args(argv)

    splits = {s.name: s for s in load_splits(args.data)}
    encoder = Encoder()
    args.heads.mkdir(parents=True, exist_ok=True)

    # The shared head weighs each language equally, so a capped sample of each is enough.
    rng = random.Random(SEED)
    shared = {n: rng.sample(s.train, min(SHARED_PER_SET, len(s.train))) for n, s in splits.items() if n in SENTIMENT}
    vectors = {n: encoder.encode([e.text for e in rows]) for n, rows in shared.items()}
    vector_head(
        np.vstack(list(vectors.values())),
        [e.label for rows in shared.values() for e in rows],
        SHARED_C,
        language_balanced([len(rows) for rows in shared.values()]),
    ).save(args.heads / f"sentiment_{SHARED}.npz")

    for name, setting in SENTIMENT.items():
        with_vector = setting.get("blend", 0.0) > 0
        train_vectors = encoder.encode([e.text for e in splits[name].train]) if with_vector else None
        language_head(splits[name], train_vectors, setting).save(args.heads / f"sentiment_{name}.npz")

    intent = splits["intent"].train
    vector_head(encoder.encode([e.text for e in intent]), [e.label for e in intent], INTENT_C).save(
        args.heads / "intent.npz"
    )

    manifest = {
        "seed": SEED,
        "encoder": encoder.name,
        "settings": {
            "sentiment": SENTIMENT,
            "shared_c": SHARED_C,
            "intent_c": INTENT_C,
            "min_df": MIN_DF,
            "ko_majority_cap": KO_MAJORITY_CAP,
            "shared_per_set": SHARED_PER_SET,
        },
        "data": {name: sha256(args.data / name) for name in DATA_FILES},
        "splits": {name: {"train": len(s.train), "test": len(s.test)} for name, s in splits.items()},
    }
    (args.heads / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    if args.splits_out:
        write_test_splits(list(splits.values()), args.splits_out)
    print(json.dumps(manifest["splits"]))


if __name__ == "__main__":
    main()
