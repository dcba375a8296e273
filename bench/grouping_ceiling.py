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

A ceiling for a one-pass stream, not a figure for it: clustering sees every report before it
places any. Not a test: it asserts nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import combinations

import numpy as np

from bench.grouping import FIXTURE_FILES, Placed, Score, enrich_reports, fixture_arguments, load_reports, pairwise
from canyu.settings import Settings
from models import DEFAULT, load_classifier

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


def agglomerate(similarity: np.ndarray, threshold: float, linkage: str) -> list[int]:
    """Cluster labels: the two most alike clusters merge while their linkage similarity is at
    least ``threshold``; "average" is the mean similarity of their members' pairs, "complete"
    the least (Lance-Williams updates on a copy of ``similarity``)."""
    n = len(similarity)
    links = np.array(similarity, dtype=np.float64)
    np.fill_diagonal(links, -np.inf)
    sizes, labels = np.ones(n), np.arange(n)
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
    found = None
    for threshold in THRESHOLDS:
        labels = agglomerate(similarity, threshold, linkage)
        clustered = [Placed(p.report, p.post, str(label)) for p, label in zip(placed, labels, strict=True)]
        across = pairwise(clustered)["across"]
        if (across.precision or 0) >= GOAL_PRECISION and (found is None or across.recall > found[1].recall):
            found = threshold, across
    return found


def run(fixture: str = "main", classifier_name: str = DEFAULT, threads: int = 1) -> dict:
    reports = load_reports(FIXTURE_FILES[fixture][0])
    enriched = enrich_reports(reports, load_classifier(classifier_name, threads=threads), Settings())
    if any(vector is None for _, _, vector in enriched):
        raise SystemExit(f"the {classifier_name} classifier gives no sentence vectors: nothing to measure")
    languages = [post.language for _, post, _ in enriched]
    vectors = centred(np.array([vector for _, _, vector in enriched]), languages)
    similarity = vectors @ vectors.T
    placed = [Placed(report, post, None) for report, post, _ in enriched]
    ordered, nearest = ordering(similarity, [p.report.bug for p in placed], [p.report.lang for p in placed])
    linkage = {}
    for name in LINKAGES:
        found = best_at_goal(placed, similarity, name)
        linkage[name] = None if found is None else {
            "threshold": found[0], "precision": round(found[1].precision, 3), "recall": round(found[1].recall, 3)
        }  # fmt: skip
    return {
        "fixture": fixture,
        "reports": len(placed),
        "ordered_pairs": round(ordered, 3),
        "nearest_of_its_bug": round(nearest, 3),
        "linkage": linkage,
    }


def report(figures: dict) -> Iterable[str]:
    yield f"{figures['fixture']}: {figures['reports']} reports, vectors centred on the fixture's language means"
    yield f"same-bug pairs more alike than different-bug pairs (across languages): {figures['ordered_pairs']:.3f}"
    yield f"reports whose most alike report in another language is of its bug: {figures['nearest_of_its_bug']:.3f}"
    for name, best in figures["linkage"].items():
        if best is None:
            yield f"{name} linkage: no threshold reaches precision {GOAL_PRECISION} across languages"
        else:
            yield (f"{name} linkage, threshold {best['threshold']:.2f}: "
                   f"precision {best['precision']:.3f}, recall {best['recall']:.3f} across languages")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = fixture_arguments(__doc__.split("\n\n")[0], "the figures as JSON").parse_args(argv)
    figures = run(args.fixture, args.classifier, args.threads)
    print(json.dumps(figures, indent=2) if args.json else "\n".join(report(figures)))


if __name__ == "__main__":
    main()
