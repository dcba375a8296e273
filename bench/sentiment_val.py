"""Choose each language's sentiment head on validation data carved from its training side.

    python -m bench.sentiment_val --data ../shared/data [--sets zh,ko,en] [--cache /tmp/canyu-vectors]

Nothing here looks at the held-out test splits of ``models.devdata``: every candidate
is fitted and scored inside the training side only, and the best by validation score
is what ``models/train.py`` ships. Validation, per set:

- zh: two training categories (clothes 衣服, shampoo 洗发水) held out whole, as the test
  holds out whole categories; fitted on the other four.
- ko: 3-fold cross-validation by film over the training films; each fold is scored like
  the test (every negative and as many positives, positive v negative accuracy).
- en: 5-fold stratified cross-validation, 3-class macro-recall.

Candidates: character n-grams (``models.features`` analysers) with tf-idf, optionally
scaled by naive-Bayes log-count ratios (NB-LR), at several C; the encoder vector
head; and a blend of the two heads' log-probabilities. Needs the ``train`` extra.
Not a test: it asserts nothing. Encoder vectors are cached under ``--cache``.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from models.devdata import load_splits
from models.encoder import Encoder
from models.features import ANALYZERS

ZH_VAL_CATEGORIES = ("衣服", "洗发水")


def vectors(encoder, texts: list[str], cache: Path | None) -> np.ndarray:
    if cache is None:
        return encoder.encode(texts)
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"{key}.npy"
    if path.exists():
        return np.load(path)
    cache.mkdir(parents=True, exist_ok=True)
    out = np.vstack([encoder.encode(texts[i : i + 256]) for i in range(0, len(texts), 256)])
    np.save(path, out)
    return out


def binary_acc(classes, p, gold) -> float:
    pos, neg = p[:, classes.index("positive")], p[:, classes.index("negative")]
    return float(np.mean(np.where(pos >= neg, "positive", "negative") == np.array(gold)))


def macro_recall(classes, p, gold) -> float:
    gold = np.array(gold)
    pred = np.array(classes)[p.argmax(axis=1)]
    return float(np.mean([np.mean(pred[gold == c] == c) for c in sorted(set(gold))]))


def folds(name, train, rng_seed=0):
    """(fit indices, validation indices) pairs inside the training side."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    idx = np.arange(len(train))
    if name == "zh":
        val = np.array([e.group in ZH_VAL_CATEGORIES for e in train])
        return [(idx[~val], idx[val])]
    if name == "ko":
        groups = [e.group for e in train]
        out = []
        rng = np.random.default_rng(rng_seed)
        for fit, val in GroupKFold(n_splits=3).split(idx, groups=groups):
            neg = [i for i in val if train[i].label == "negative"]
            pos = [i for i in val if train[i].label == "positive"]
            pos = list(rng.permutation(pos)[: len(neg)])
            out.append((fit, np.array(neg + pos)))
        return out
    skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=rng_seed)
    return list(skf.split(idx, [e.label for e in train]))


def fit_ngrams(texts, y, analyzer, c, nb, polar_only):
    from models.train import fit_ngram_model

    return fit_ngram_model(texts, y, analyzer, c, nb, polar_only)


def main(argv: list[str] | None = None) -> None:
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", default="zh,ko,en")
    parser.add_argument("--cache", type=Path, default=None, help="cache encoder vectors here")
    parser.add_argument("--cs", default="0.3,1,3,10")
    parser.add_argument("--analyzers", default=",".join(ANALYZERS))
    parser.add_argument("--ko-cap", type=int, help="override models.devdata.KO_MAJORITY_CAP")
    args = parser.parse_args(argv)
    if args.ko_cap:
        import models.devdata

        models.devdata.KO_MAJORITY_CAP = args.ko_cap

    wanted = args.sets.split(",")
    splits = {s.name: s for s in load_splits(args.data) if s.name in wanted}
    encoder = Encoder() if "en" in wanted or "ko" in wanted or args.cache else None
    cs = [float(c) for c in args.cs.split(",")]
    for name, split in splits.items():
        train = split.train
        texts = [e.text for e in train]
        y = np.array([e.label for e in train])
        metric = macro_recall if name == "en" else binary_acc
        vec = vectors(encoder, texts, args.cache) if name in ("en", "ko") or args.cache else None
        results = {}
        for fit, val in folds(name, train):
            tf, tv = [texts[i] for i in fit], [texts[i] for i in val]
            gold = list(y[val])
            logp = {}
            for analyzer in args.analyzers.split(","):
                for nb in (False, True) if name != "en" else (False,):
                    for polar in (False, True) if name == "ko" else (False,):
                        for c in cs:
                            model = fit_ngrams(tf, list(y[fit]), analyzer, c, nb, polar)
                            p = model.proba(tv)
                            key = f"{analyzer} nb={int(nb)} polar={int(polar)} C={c:g}"
                            results.setdefault(key, []).append(metric(model.classes, p, gold))
                            logp[key] = (model.classes, p)
            if vec is not None and name == "en":  # one head on the vector and the n-grams together (shipped for en)
                import scipy.sparse as sp

                from models.train import fit_ngram_model

                for c in (0.3, 1.0):
                    g = fit_ngram_model(tf, list(y[fit]), "char13", 1.0, False)
                    both = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
                    both.fit(sp.hstack([sp.csr_matrix(vec[fit]), g.features(tf)]).tocsr(), y[fit])
                    p = both.predict_proba(sp.hstack([sp.csr_matrix(vec[val]), g.features(tv)]).tocsr())
                    score = metric(both.classes_.tolist(), p, gold)
                    results.setdefault(f"both vector+char13 C={c:g}", []).append(score)
            if vec is not None:
                for c in (0.3, 1.0, 3.0):
                    lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(vec[fit], y[fit])
                    classes = lr.classes_.tolist()
                    p = lr.predict_proba(vec[val])
                    results.setdefault(f"vector C={c:g}", []).append(metric(classes, p, gold))
                    # blends of this vector head with each n-gram candidate sharing its classes
                    for key, (gc, gp) in logp.items():
                        if list(gc) != classes:
                            continue
                        for a in (0.2, 0.35, 0.5, 0.65, 0.8):
                            pb = np.exp(a * np.log(p + 1e-9) + (1 - a) * np.log(gp + 1e-9))
                            results.setdefault(f"blend a={a} vector C={c:g} + {key}", []).append(
                                metric(classes, pb, gold)
                            )
        ranked = sorted(results.items(), key=lambda kv: -np.mean(kv[1]))
        print(f"== {name} (training rows {len(train)}): validation ({len(results)} candidates), best first")
        for key, scores in ranked[:12]:
            print(f"  {np.mean(scores):.4f}  {key}")
        before = "both vector+char13 C=1" if name == "en" else "char13 nb=0 polar=0 C=1"
        if before in results:
            print(f"  shipped before: {np.mean(results[before]):.4f}  {before}", flush=True)


if __name__ == "__main__":
    main()
