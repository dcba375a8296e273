"""Scoring a classifier on any labelled file: the engine of ``canyu eval``.

Gold labels (after ``--map``) name the task: sentiment labels (negative, neutral,
positive) or intent labels. A sentiment set with only negative and positive is
binary and scored as positive versus negative: the prediction is whichever of the
two has the higher score. For intent, a predicted label that the set does not use
counts as "other" (so a set labelled bug_report / feature_request / other scores a
predicted question, complaint or praise as other).
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from canyu.schema import INTENT_LABELS, SENTIMENT_LABELS
from models.base import Classifier

FORMATS = ("csv", "tsv", "jsonl", "lines")


def parse_map(spec: str | None) -> dict[str, str]:
    """'1=positive,0=negative' -> {'1': 'positive', '0': 'negative'}."""
    if not spec:
        return {}
    pairs = [item.split("=", 1) for item in spec.split(",") if item.strip()]
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"--map must look like '1=positive,0=negative', got {spec!r}")
    return {k.strip(): v.strip() for k, v in pairs}


def read_labelled(
    path: Path, fmt: str, text_col: str, label_col: str, mapping: dict[str, str], labels_file: Path | None = None
) -> tuple[list[str], list[str]]:
    """Texts and gold labels. ``lines``: one text per line in ``path``, one label per line in ``labels_file``."""
    if fmt == "lines":
        if labels_file is None:
            raise ValueError("--format lines needs --labels-file")
        texts = path.read_text(encoding="utf-8").splitlines()
        labels = labels_file.read_text(encoding="utf-8").splitlines()
        if len(texts) != len(labels):
            raise ValueError(f"{path} has {len(texts)} lines but {labels_file} has {len(labels)}")
        rows = list(zip(texts, labels, strict=True))
    elif fmt in ("csv", "tsv"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter="," if fmt == "csv" else "\t")
            missing = {text_col, label_col} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path} has no column(s) {sorted(missing)}; it has {reader.fieldnames}")
            rows = [(r[text_col] or "", r[label_col] or "") for r in reader]
    elif fmt == "jsonl":
        with open(path, encoding="utf-8") as f:
            items = [json.loads(line) for line in f if line.strip()]
        rows = [(str(item.get(text_col) or ""), str(item[label_col])) for item in items]
    else:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    rows = [(text, mapping.get(label.strip(), label.strip())) for text, label in rows]
    return [t for t, _ in rows], [y for _, y in rows]


def task_of(gold: Sequence[str]) -> str:
    used = set(gold)
    if used <= set(SENTIMENT_LABELS):
        return "sentiment"
    if used <= set(INTENT_LABELS):
        return "intent"
    raise ValueError(
        f"labels {sorted(used)[:8]} are neither sentiment {SENTIMENT_LABELS} nor intent labels {INTENT_LABELS};"
        " translate them with --map"
    )


@dataclass(frozen=True)
class Report:
    task: str
    classes: list[str]
    confusion: np.ndarray  # rows: gold, columns: predicted, in the order of classes
    seconds: float

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(self.n, 1))

    def per_class(self) -> list[tuple[str, float, float, float, int]]:
        """(class, precision, recall, F1, support) for each class."""
        rows = []
        for i, label in enumerate(self.classes):
            tp = self.confusion[i, i]
            predicted, support = self.confusion[:, i].sum(), self.confusion[i].sum()
            precision = tp / predicted if predicted else 0.0
            recall = tp / support if support else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            rows.append((label, float(precision), float(recall), float(f1), int(support)))
        return rows

    @property
    def macro_f1(self) -> float:
        return float(np.mean([f1 for *_, f1, support in self.per_class() if support]))

    @property
    def macro_recall(self) -> float:
        return float(np.mean([recall for _, _, recall, _, support in self.per_class() if support]))

    @property
    def posts_per_s(self) -> float:
        return self.n / self.seconds if self.seconds else float("inf")


def predict(classifier: Classifier, texts: Sequence[str], gold: Sequence[str], batch_size: int) -> tuple[list, float]:
    """The classifier's label for each text, in the gold set's terms, and the seconds it took."""
    task, used = task_of(gold), set(gold)
    predicted, seconds = [], 0.0
    for start in range(0, len(texts), batch_size):
        began = time.perf_counter()
        results = classifier.classify(texts[start : start + batch_size])
        seconds += time.perf_counter() - began
        for c in results:
            if task == "sentiment" and used <= {"negative", "positive"}:
                scores = c.sentiment.scores
                predicted.append("positive" if scores["positive"] >= scores["negative"] else "negative")
            elif task == "sentiment":
                predicted.append(c.sentiment.label)
            else:
                predicted.append(c.intent.label if c.intent.label in used else "other")
    return predicted, seconds


def evaluate(classifier: Classifier, texts: Sequence[str], gold: Sequence[str], batch_size: int = 32) -> Report:
    predicted, seconds = predict(classifier, texts, gold, batch_size)
    labels = SENTIMENT_LABELS if task_of(gold) == "sentiment" else INTENT_LABELS
    classes = [label for label in labels if label in set(gold) | set(predicted)]
    index = {label: i for i, label in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for y, p in zip(gold, predicted, strict=True):
        confusion[index[y], index[p]] += 1
    return Report(task_of(gold), classes, confusion, seconds)


def sample(texts: list[str], gold: list[str], n: int | None, seed: int = 0) -> tuple[list[str], list[str]]:
    """A seeded random subsample of n rows (all rows when n is None or larger)."""
    if n is None or n >= len(texts):
        return texts, gold
    rows = sorted(random.Random(seed).sample(range(len(texts)), n))
    return [texts[i] for i in rows], [gold[i] for i in rows]


def format_report(report: Report) -> str:
    lines = [
        f"task: {report.task}  posts: {report.n}",
        f"accuracy {report.accuracy:.4f}  macro-F1 {report.macro_f1:.4f}  macro-recall {report.macro_recall:.4f}",
        "",
        f"{'class':<16}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>10}",
    ]
    lines += [f"{c:<16}{p:>10.4f}{r:>10.4f}{f:>10.4f}{s:>10}" for c, p, r, f, s in report.per_class()]
    width = max(9, *(len(c) + 1 for c in report.classes))
    header = " " * 16 + "".join(f"{c:>{width}}" for c in report.classes)
    lines += ["", "confusion (rows: gold, columns: predicted)", header]
    lines += [
        f"{c:<16}" + "".join(f"{v:>{width}}" for v in row)
        for c, row in zip(report.classes, report.confusion, strict=True)
    ]
    lines += ["", f"throughput: {report.posts_per_s:.1f} posts/s (classify calls only)"]
    return "\n".join(lines)
