"""The labelled development sets in ``shared/data`` and their seeded train/test splits.

Every split here is held out from training in a way that makes the score mean
something: the zh test set is whole product categories the heads never saw, the ko
test set is whole films, the intent test set is whole app reviews, and the en test
set is stratified random tweets.
Large sets are subsampled (seeded) to keep training within minutes on two cores.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SEED = 13
# Electronics and appliances are the categories closest to phones; held out whole.
ZH_TEST_CATEGORIES = ("平板", "计算机", "热水器")
ZH_PER_CLASS = 4000  # rows per (category, label) kept: every row but in the four largest categories
KO_TEST_SHARE = 0.2  # share of films held out
KO_MAJORITY_CAP = 3  # training keeps neutral and positive rows up to this many times the negatives
EN_TEST_SHARE = 0.4
INTENT_TEST_SHARE = 0.3

# Panichella et al.'s classes, in canyu's intent labels.
INTENT_MAP = {
    "problem discovery": "bug_report",
    "feature request": "feature_request",
    "information seeking": "question",
    "information giving": "other",
}


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    group: str  # what the split holds out: category, film, or the row itself


@dataclass(frozen=True)
class Split:
    name: str  # zh | ko | en | intent
    task: str  # sentiment | intent
    train: list[Example]
    test: list[Example]


def _stratified(rows: list[Example], test_share: float, rng: random.Random) -> tuple[list[Example], list[Example]]:
    by_label: dict[str, list[Example]] = defaultdict(list)
    for row in rows:
        by_label[row.label].append(row)
    train, test = [], []
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        cut = round(len(group) * test_share)
        test += group[:cut]
        train += group[cut:]
    return train, test


def zh(data: Path, rng: random.Random) -> Split:
    by_cell: dict[tuple[str, str], list[Example]] = defaultdict(list)
    with open(data / "zh/online_shopping_9_cats.csv", encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            label = "positive" if row["label"] == "1" else "negative"
            text = row["review"].strip().lstrip("\ufeff")
            if text:
                by_cell[(row["cat"], label)].append(Example(text, label, row["cat"]))
    train, test = [], []
    for cell in sorted(by_cell):
        rows = by_cell[cell]
        rng.shuffle(rows)
        (test if cell[0] in ZH_TEST_CATEGORIES else train).extend(rows[:ZH_PER_CLASS])
    return Split("zh", "sentiment", train, test)


def _ko_label(rating: int) -> str:
    # The NSMC rule: 1-4 negative, 9-10 positive; 5-8 serve as neutral.
    return "negative" if rating <= 4 else "positive" if rating >= 9 else "neutral"


def ko(data: Path, rng: random.Random) -> Split:
    rows = []
    with open(data / "ko/nsmc_raw_subset.jsonl", encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            text = item["review"].strip()
            if text:
                rows.append(Example(text, _ko_label(int(item["rating"])), item["movie_id"]))
    films = sorted({r.group for r in rows})
    rng.shuffle(films)
    held = set(films[: round(len(films) * KO_TEST_SHARE)])
    train = [r for r in rows if r.group not in held]
    # Binary test, balanced: every held-out negative and as many positives, so that
    # accuracy is not won by calling everything positive (9 in 10 ratings are 9-10).
    negatives = [r for r in rows if r.group in held and r.label == "negative"]
    positives = [r for r in rows if r.group in held and r.label == "positive"]
    rng.shuffle(positives)
    # Training keeps every negative and caps the majority classes at KO_MAJORITY_CAP x the negatives.
    by_label: dict[str, list[Example]] = defaultdict(list)
    for r in train:
        by_label[r.label].append(r)
    cap = KO_MAJORITY_CAP * len(by_label["negative"])
    kept = []
    for label in sorted(by_label):
        rng.shuffle(by_label[label])
        kept += by_label[label][:cap]
    return Split("ko", "sentiment", kept, negatives + positives[: len(negatives)])


def en(data: Path, rng: random.Random) -> Split:
    names = dict(line.split("\t") for line in (data / "en/tweeteval_sentiment_mapping.txt").read_text().splitlines())
    texts = (data / "en/tweeteval_sentiment_val_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (data / "en/tweeteval_sentiment_val_labels.txt").read_text().split()
    rows = [Example(t.strip(), names[y].strip(), str(i)) for i, (t, y) in enumerate(zip(texts, labels, strict=True))]
    return Split("en", "sentiment", *_stratified(rows, EN_TEST_SHARE, rng))


def intent(data: Path, rng: random.Random) -> Split:
    # Rows are sentences; sentences of one review share its id and go to the same side.
    with open(data / "intent/panichella_review_intents.csv", encoding="utf-8", newline="") as f:
        rows = [Example(r["review"].strip(), INTENT_MAP[r["class"]], r["id"]) for r in csv.DictReader(f)]
    reviews = sorted({r.group for r in rows})
    rng.shuffle(reviews)
    held = set(reviews[: round(len(reviews) * INTENT_TEST_SHARE)])
    return Split("intent", "intent", [r for r in rows if r.group not in held], [r for r in rows if r.group in held])


def load_splits(data: Path) -> list[Split]:
    """Every split, each from its own seeded generator so one set's size never moves another's."""
    return [load(data, random.Random(f"{SEED}:{load.__name__}")) for load in (zh, ko, en, intent)]
