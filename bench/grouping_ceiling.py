"""What the grouping fixtures' sentence vectors allow, apart from how the stream assigns them.

    python -m bench.grouping_ceiling [--fixture main|held_out] [--threads 1] [--json]

``bench.grouping`` measures the stateful step: one pass, each report joining the open item
nearest to it or starting one, around centres that start at the training means. This takes the
same vectors (``enrich_batch`` with the default classifier, as the worker sends them) and asks
how far the vectors themselves separate the bugs:

- *centred*: each vector less its language's mean over the fixture's reports (the centre the
  stream's centres move towards once they hold feedback), then unit length.
- *ordering*: of every pair (one bug, two languages) against every pair (two bugs, two
  languages), the share whose same-bug pair is the more alike; and the share of reports whose
  most alike report in another language is of its bug.
- *linkage*: agglomerative clustering of all the reports at once, average and complete linkage,
  at cosine thresholds from 0.10 to 0.60: the best recall across languages with a precision of
  at least 0.9, the issue's goal (docs/streams.md, "Grouping across languages").
- *merging the stream's items*: the same average linkage, starting from the items the stream
  made (``bench.grouping``) instead of from single reports: what merging items after the one
  pass could reach. It can join items, never undo a report placed in the wrong one.

A ceiling for a one-pass stream, not a figure for it: clustering sees every report before it
places any. Not a test: it asserts nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import combinations

import numpy as np

from bench.grouping import (
    FIXTURE_FILES,
    Placed,
    Score,
    enrich_reports,
    fixture_arguments,
    group,
    load_reports,
    pairwise,
)
from canyu.settings import Settings
from models import DEFAULT, load_classifier
from streams.app import signal_config

THRESHOLDS = [round(0.10 + 0.02 * i, 2) for i in range(26)]
LINKAGES = ("average", "complete")
GOAL_PRECISION = 0.9


def centred(vectors: np.ndarray, languages: Sequence[str]) -> np.ndarray:
    """Each row less the mean of its language's rows, then unit length."""
    out = np.array(vectors, dtype=np.float64)
    for language in set(languages):
        rows = [i for i, lang in enumerate(languages) if lang == language]
        out[rows] -= out[rows].mean(axis=0)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def agglomerate(similarity: np.ndarray, threshold: float, linkage: str, sizes: np.ndarray | None = None) -> list[int]:
    """Cluster labels: the two most alike clusters merge while their linkage similarity is at
    least ``threshold``; "average" is the mean similarity of their members' pairs (each row
    standing for ``sizes`` members, 1 by default), "complete" the least (Lance-Williams updates
    on a copy of ``similarity``)."""
    n = len(similarity)
    links = np.array(similarity, dtype=np.float64)
    np.fill_diagonal(links, -np.inf)
    sizes = np.ones(n) if sizes is None else np.array(sizes, dtype=np.float64)
    labels = np.arange(n)
    while n > 1:
        i, j = np.unravel_index(np.argmax(links), links.shape)
        if links[i, j] < threshold:
            break
        if linkage == "average":
            merged = (sizes[i] * links[i] + sizes[j] * links[j]) / (sizes[i] + sizes[j])
        elif linkage == "complete":
            merged = np.minimum(links[i], links[j])
        else:
            raise ValueError(f"unknown linkage {linkage!r}: one of {LINKAGES}")
        links[i], links[:, i] = merged, merged
        links[j], links[:, j], links[i, i] = -np.inf, -np.inf, -np.inf
        sizes[i] += sizes[j]
        labels[labels == j] = i
    return labels.tolist()


def ordering(similarity: np.ndarray, bugs: Sequence[str], languages: Sequence[str]) -> tuple[float, float]:
    """(share of same-bug against different-bug pairs across languages ordered right, ties half;
    share of reports whose most alike report in another language is of its bug)."""
    same, other = [], []
    for a, b in combinations(range(len(bugs)), 2):
        if languages[a] != languages[b]:
            (same if bugs[a] == bugs[b] else other).append(similarity[a, b])
    same_, other_ = np.array(same)[:, None], np.array(other)[None, :]
    ordered = float(((same_ > other_) + 0.5 * (same_ == other_)).mean())
    nearest = []
    for a in range(len(bugs)):
        others = [b for b in range(len(bugs)) if languages[b] != languages[a]]
        nearest.append(bugs[max(others, key=lambda b: similarity[a, b])] == bugs[a])
    return ordered, float(np.mean(nearest))


def best_at_goal(placed: list[Placed], similarity: np.ndarray, linkage: str) -> tuple[float, Score] | None:
    """(threshold, pairs across languages) with the highest recall of those at the goal's precision."""

    def clustered(threshold: float) -> list[Placed]:
        labels = agglomerate(similarity, threshold, linkage)
        return [Placed(p.report, p.post, str(label)) for p, label in zip(placed, labels, strict=True)]

    return _best(clustered)


def merged_items(placed: list[Placed], vectors: np.ndarray) -> tuple[float, Score] | None:
    """As ``best_at_goal``, average linkage, but from the stream's items: the mean similarity of two
    items' reports is the product of the means of their (unit) vectors."""
    items = sorted({p.item for p in placed if p.item is not None})
    if not items:
        return None
    rows = {item: [i for i, p in enumerate(placed) if p.item == item] for item in items}
    means = np.array([vectors[rows[item]].mean(axis=0) for item in items])
    sizes = np.array([len(rows[item]) for item in items])

    def clustered(threshold: float) -> list[Placed]:
        label = dict(zip(items, agglomerate(means @ means.T, threshold, "average", sizes), strict=True))
        return [replace(p, item=None if p.item is None else str(label[p.item])) for p in placed]

    return _best(clustered)


def _best(clustered) -> tuple[float, Score] | None:
    """Of ``clustered(threshold)`` at each threshold, the highest recall across languages at the goal's precision."""
    found = None
    for threshold in THRESHOLDS:
        across = pairwise(clustered(threshold))["across"]
        if (across.precision or 0) >= GOAL_PRECISION and (found is None or across.recall > found[1].recall):
            found = threshold, across
    return found


def run(fixture: str = "main", classifier_name: str = DEFAULT, threads: int = 1) -> dict:
    reports = load_reports(FIXTURE_FILES[fixture][0])
    settings = Settings()
    enriched = enrich_reports(reports, load_classifier(classifier_name, threads=threads), settings)
    if any(vector is None for _, _, vector in enriched):
        raise SystemExit(f"the {classifier_name} classifier gives no sentence vectors: nothing to measure")
    languages = [post.language for _, post, _ in enriched]
    vectors = centred(np.array([vector for _, _, vector in enriched]), languages)
    similarity = vectors @ vectors.T
    placed = [Placed(report, post, None) for report, post, _ in enriched]
    ordered, nearest = ordering(similarity, [p.report.bug for p in placed], [p.report.lang for p in placed])
    linkage = {name: _figures(best_at_goal(placed, similarity, name)) for name in LINKAGES}
    linkage["merging the stream's items"] = _figures(merged_items(group(enriched, signal_config(settings)), vectors))
    return {
        "fixture": fixture,
        "reports": len(placed),
        "ordered_pairs": round(ordered, 3),
        "nearest_of_its_bug": round(nearest, 3),
        "linkage": linkage,
    }


def _figures(found: tuple[float, Score] | None) -> dict | None:
    if found is None:
        return None
    threshold, across = found
    return {"threshold": threshold, "precision": round(across.precision, 3), "recall": round(across.recall, 3)}


def report(figures: dict) -> Iterable[str]:
    yield f"{figures['fixture']}: {figures['reports']} reports, vectors centred on the fixture's language means"
    yield f"same-bug pairs more alike than different-bug pairs (across languages): {figures['ordered_pairs']:.3f}"
    yield f"reports whose most alike report in another language is of its bug: {figures['nearest_of_its_bug']:.3f}"
    for name, best in figures["linkage"].items():
        if best is None:
            yield f"{_named(name)}: no threshold reaches precision {GOAL_PRECISION} across languages"
        else:
            yield (f"{_named(name)}, threshold {best['threshold']:.2f}: "
                   f"precision {best['precision']:.3f}, recall {best['recall']:.3f} across languages")  # fmt: skip


def _named(linkage: str) -> str:
    return f"{linkage} linkage" if linkage in LINKAGES else f"average linkage, {linkage}"


def main(argv: list[str] | None = None) -> None:
    args = fixture_arguments(__doc__.split("\n\n")[0], "the figures as JSON").parse_args(argv)
    figures = run(args.fixture, args.classifier, args.threads)
    print(json.dumps(figures, indent=2) if args.json else "\n".join(report(figures)))


if __name__ == "__main__":
    main()
