"""Choose the lexicon cue weight on validation data carved from the training side.

    python -m bench.cue_weight_val --data ../shared/data [--weights 0,0.25,0.5,0.75,1,1.5,2] [--cache DIR]

The same validation as ``bench.sentiment_val`` (zh: clothes and shampoo held out whole;
ko: 3 folds by film, balanced positive v negative; en: 5 stratified folds). For each fold
it fits that language's sentiment head with ``models.train.language_head`` on the fold's
training rows, puts it beside the shipped heads in a temporary folder, and scores the
offline classifier's sentiment (lexicon cues included) on the fold's validation rows
at each cue weight. Sentiment only: intent is not part of this choice. Never reads the
test splits. Needs the ``train`` extra. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bench.sentiment_val import binary_acc, folds, macro_recall, vectors
from canyu.schema import SENTIMENT_LABELS
from models.devdata import Split, load_splits
from models.encoder import Encoder
from models.offline import OfflineClassifier, _nudge, heads_dir
from models.train import SENTIMENT, language_head


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--weights", default="0,0.25,0.5,0.75,1,1.5,2")
    parser.add_argument("--cache", type=Path, default=None, help="cache encoder vectors here")
    args = parser.parse_args(argv)

    weights = [float(w) for w in args.weights.split(",")]
    encoder = Encoder()
    scores: dict[str, dict[float, list[float]]] = {}
    for split in load_splits(args.data):
        if split.name not in SENTIMENT:
            continue
        train = split.train
        setting = SENTIMENT[split.name]
        vec = vectors(encoder, [e.text for e in train], args.cache) if setting.get("blend") else None
        metric = macro_recall if split.name == "en" else binary_acc
        for fit, val in folds(split.name, train):
            fold = Split(split.name, split.task, [train[i] for i in fit], [])
            with tempfile.TemporaryDirectory() as tmp:
                heads = Path(tmp)
                for path in heads_dir().glob("*.npz"):
                    shutil.copy(path, heads / path.name)
                head = language_head(fold, None if vec is None else vec[fit], setting)
                head.save(heads / f"sentiment_{split.name}.npz")
                clf = OfflineClassifier(heads=heads)
            texts, gold = [train[i].text for i in val], [train[i].label for i in val]
            v = vectors(encoder, texts, args.cache)
            p = clf.sentiment_proba(texts, v, [split.name] * len(texts))
            cues = [clf.lexicon.cues(t) for t in texts]
            for w in weights:
                nudged = _nudge(p, cues, SENTIMENT_LABELS, w)
                scores.setdefault(split.name, {}).setdefault(w, []).append(metric(list(SENTIMENT_LABELS), nudged, gold))
    print(f"{'weight':<8}" + "".join(f"{n:>10}" for n in scores) + f"{'mean':>10}")
    for w in weights:
        cells = [float(np.mean(scores[n][w])) for n in scores]
        print(f"{w:<8g}" + "".join(f"{c:>10.4f}" for c in cells) + f"{np.mean(cells):>10.4f}")


if __name__ == "__main__":
    main()
