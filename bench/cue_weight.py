"""How much the phone lexicon's cue words move the offline default's scores.

    python -m bench.cue_weight --splits /tmp/canyu-splits [--weights 0,0.5,1,2] [--zh-sample 2000]

Runs ``OfflineClassifier(cue_weight=w)`` for each weight on the held-out test files
that ``python -m models.train --splits-out DIR`` writes, and prints the same scores as
``canyu eval`` (zh, ko: accuracy; en: macro-recall; intent: macro-F1, question
counted as other). zh is subsampled (seeded, as ``canyu eval --sample``) to keep the
run to minutes. It reports; the shipped weight (``models.offline.CUE_WEIGHT``) is
not chosen by it (see MODEL_CARD.md). Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models.evaluation import evaluate, read_labelled, sample
from models.offline import OfflineClassifier

SETS = (("zh", "accuracy", {}), ("ko", "accuracy", {}), ("en", "macro_recall", {}))
INTENT = ("intent", "macro_f1", {"question": "other"})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=Path, default=Path("/tmp/canyu-splits"))
    parser.add_argument("--weights", default="0,0.5,1,2")
    parser.add_argument("--zh-sample", type=int, default=2000)
    args = parser.parse_args(argv)

    data = {}
    for name, metric, mapping in (*SETS, INTENT):
        texts, gold = read_labelled(args.splits / f"{name}_test.jsonl", "jsonl", "text", "label", mapping)
        data[name] = (sample(texts, gold, args.zh_sample) if name == "zh" else (texts, gold), metric)
    clf = OfflineClassifier()
    print(f"{'weight':<8}" + "".join(f"{n + ' ' + m:>22}" for n, (_, m) in data.items()))
    for weight in (float(w) for w in args.weights.split(",")):
        clf.cue_weight = weight
        cells = []
        for (texts, gold), metric in data.values():
            cells.append(getattr(evaluate(clf, texts, gold), metric))
        print(f"{weight:<8g}" + "".join(f"{c:>22.4f}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
