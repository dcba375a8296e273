"""Cross-language grouping: how well feedback items gather the reports of one bug.

    python -m bench.grouping [--fixture main|held_out] [--threshold T] [--centre-weight W] [--sweep]
                             [--threads 1] [--classifier offline] [--json]

The fixtures, in ``tests/fixtures/grouping/``, hold user bug reports written for the tests,
each bug reported in zh, ko and en, some twice in one language (a forum post with device,
version and steps, and a short micro-blog post). Some bugs are near-misses of each other: the
same component, a different bug (the bugs file beside the reports names them).

- ``main`` (``bug_reports.jsonl``, ``bugs.json``): 20 bugs, 86 reports; what grouping was tuned on.
- ``held_out`` (``held_out.jsonl``, ``held_out_bugs.json``): 12 other bugs, 49 reports, written
  before any tuning and never tuned on: the figures that say whether the tuning generalises.

The reports take the worker's own path: ``enrich_batch`` with the classifier, the product
catalogue and the version rules, then ``Signals.process`` with each post's sentence vector, over
the posts in time order, on in-memory tables, with the worker's ``signal_config``. Each
report's item is the one the stateful step says it joined (``item_id``).

Pairwise figures, over every pair of reports: two reports are *together* when they joined the
same item. precision = pairs together that share a bug / pairs together; recall = pairs
together that share a bug / pairs that share a bug. A report with no item (its intent is not
one that is grouped, or it was set aside as a near-duplicate) is together with none. *Within*
a language counts the pairs of reports in one language, *across* the pairs in two.

Not a test: it asserts nothing. It measures grouping, not speed.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from itertools import combinations
from pathlib import Path

import numpy as np

from canyu.schema import EnrichedPost, Post
from canyu.settings import Settings
from models import DEFAULT, VersionFinder, describe_threads, load_classifier, thread_counts
from streams.app import signal_config
from streams.enrich import Enriched, RawRecord, enrich_batch
from streams.products import Catalogue
from streams.recent import pack_vector, unpack_vector
from streams.signals import SignalConfig, Signals, Tables

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "grouping"
REPORTS = FIXTURES / "bug_reports.jsonl"
BUGS = FIXTURES / "bugs.json"
# fixture name → (reports, bugs)
FIXTURE_FILES = {"main": (REPORTS, BUGS), "held_out": (FIXTURES / "held_out.jsonl", FIXTURES / "held_out_bugs.json")}
LANGUAGES = ("zh", "ko", "en")
SWEEP = [round(0.30 + 0.02 * i, 2) for i in range(16)]  # item_vector_similarity from 0.30 to 0.60
Vector = np.ndarray | None


@dataclass(frozen=True)
class Report:
    bug: str
    lang: str  # the language it is written in, as its author wrote it (not as detected)
    post: Post


@dataclass(frozen=True)
class Bug:
    component: str
    summary: str
    near_misses: tuple[str, ...]  # other bugs of the same component


@dataclass(frozen=True)
class Placed:
    """A report after the pipeline: its labels, and the item it joined (None: no item)."""

    report: Report
    post: EnrichedPost
    item: str | None

    def labels(self) -> tuple[str, str | None, str | None]:
        """(intent, first product, first topic): the classifier's labels, which items with a
        sentence vector are no longer grouped by, shown beside each report."""
        product = self.post.products[0] if self.post.products else None
        return self.post.intent.label, product, self.post.topics[0].id if self.post.topics else None


def load_reports(path: Path = REPORTS) -> list[Report]:
    """The fixture's reports; a line that is not a report stops it, with its line number."""
    reports = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            bug, lang = fields.pop("bug"), fields.pop("lang")
            reports.append(Report(bug, lang, Post.model_validate(fields)))
        except (ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"{path}:{n}: not a bug report: {e}") from e
    return reports


def load_bugs(path: Path = BUGS) -> dict[str, Bug]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {bug: Bug(b["component"], b["summary"], tuple(b["near_misses"])) for bug, b in raw.items()}


def enrich_reports(reports: list[Report], classifier, settings: Settings) -> list[tuple[Report, EnrichedPost, Vector]]:
    """Each report through enrich, in time order, as the worker takes them, with its sentence vector
    as the worker sends it: half precision, in a header beside the post (streams.agents)."""
    reports = sorted(reports, key=lambda r: r.post.created_at)
    records = [RawRecord(r.post.model_dump_json().encode(), offset=i) for i, r in enumerate(reports)]
    mentions = Catalogue.load(settings.worker.products_file).mentions
    enriched = enrich_batch(records, classifier, settings, mentions=mentions, versions=VersionFinder.load().find)
    out = []
    for report, result in zip(reports, enriched, strict=True):
        if not isinstance(result, Enriched):
            raise RuntimeError(f"{report.post.id} became a dead letter: {result.reason}")
        post, vector = result
        out.append((report, post, unpack_vector(pack_vector(vector)) if vector is not None else None))
    return out


def group(enriched: list[tuple[Report, EnrichedPost, Vector]], config: SignalConfig) -> list[Placed]:
    """The enriched reports through the stateful step, on empty in-memory tables."""
    signals = Signals(Tables(), config)
    placed = []
    for offset, (report, post, vector) in enumerate(enriched):
        out = signals.process(post, offset, signals.fingerprint_of(post), vector)
        placed.append(Placed(report, out.post, out.post.item_id))
    return placed


def place(reports: list[Report], classifier, settings: Settings, config: SignalConfig | None = None) -> list[Placed]:
    """Each report through enrich and the stateful step (with the worker's ``signal_config`` unless given)."""
    return group(enrich_reports(reports, classifier, settings), config or signal_config(settings))


@dataclass(frozen=True)
class Score:
    together: int  # pairs that joined one item
    right: int  # of those, pairs that share a bug
    same_bug: int  # pairs that share a bug

    @property
    def precision(self) -> float | None:
        return self.right / self.together if self.together else None

    @property
    def recall(self) -> float | None:
        return self.right / self.same_bug if self.same_bug else None


def together(a: Placed, b: Placed) -> bool:
    """Whether two reports joined one item (a report with no item is together with none)."""
    return a.item is not None and a.item == b.item


def _pair_scope(a: Placed, b: Placed) -> list[str]:
    la, lb = a.report.lang, b.report.lang
    if la == lb:
        return ["overall", "within", f"within {la}"]
    first, second = sorted((la, lb), key=LANGUAGES.index)
    return ["overall", "across", f"{first}-{second}"]


def pairwise(placed: list[Placed]) -> dict[str, Score]:
    """Pairwise precision and recall, overall, within one language, and across two."""
    counts: dict[str, Counter] = {}
    for a, b in combinations(placed, 2):
        joined, same_bug = together(a, b), a.report.bug == b.report.bug
        for scope in _pair_scope(a, b):
            c = counts.setdefault(scope, Counter())
            c["together"] += joined
            c["right"] += joined and same_bug
            c["same_bug"] += same_bug
    order = ["overall", "within", "across", *(f"within {la}" for la in LANGUAGES), "zh-ko", "zh-en", "ko-en"]
    return {s: Score(counts[s]["together"], counts[s]["right"], counts[s]["same_bug"]) for s in order if s in counts}


def why_apart(a: Placed, b: Placed) -> str:
    """Why two reports of one bug did not join one item."""
    return "no item" if a.item is None or b.item is None else "different items"


def missed(placed: list[Placed]) -> dict[str, Counter]:
    """Pairs of one bug that are apart, by reason: within a language and across."""
    reasons = {"within": Counter(), "across": Counter()}
    for a, b in combinations(placed, 2):
        if a.report.bug == b.report.bug and not together(a, b):
            reasons["within" if a.report.lang == b.report.lang else "across"][why_apart(a, b)] += 1
    return reasons


def merged(placed: list[Placed], bugs: dict[str, Bug]) -> Counter:
    """Pairs of different bugs in one item, by the two bugs, near-misses marked."""
    pairs: Counter = Counter()
    for a, b in combinations(placed, 2):
        if together(a, b) and a.report.bug != b.report.bug:
            x, y = sorted((a.report.bug, b.report.bug))
            pairs[(x, y, y in bugs[x].near_misses)] += 1
    return pairs


def per_bug(placed: list[Placed], bugs: dict[str, Bug]) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    by_bug: dict[str, list[Placed]] = {}
    for p in placed:
        by_bug.setdefault(p.report.bug, []).append(p)
    for bug, ps in by_bug.items():
        items = Counter(p.item for p in ps if p.item is not None)
        pairs = list(combinations(ps, 2))
        joined = sum(together(a, b) for a, b in pairs)
        others = sorted({q.report.bug for q in placed if q.item in items and q.report.bug != bug})
        rows[bug] = {
            "summary": bugs[bug].summary,
            "near_misses": list(bugs[bug].near_misses),
            "reports": len(ps),
            "languages": dict(Counter(p.report.lang for p in ps)),
            "items": len(items),
            "largest_item": max(items.values(), default=0),
            "no_item": sum(p.item is None for p in ps),
            "recall": round(joined / len(pairs), 3) if pairs else None,
            "shares_items_with": others,
            "labels": [
                dict(zip(("lang", "intent", "product", "topic"), (p.report.lang, *p.labels()), strict=True)) for p in ps
            ],
        }
    return rows


def config_of(settings: Settings, threshold: float | None = None, centre_weight: float | None = None) -> SignalConfig:
    """The worker's configuration, with the vector threshold and the centres' prior weight as given."""
    config = signal_config(settings)
    changes = {"item_vector_threshold": threshold, "centre_weight": centre_weight}
    return replace(config, **{k: v for k, v in changes.items() if v is not None})


def run(
    classifier_name: str = DEFAULT,
    threads: int = 1,
    settings: Settings | None = None,
    fixture: str = "main",
    config: SignalConfig | None = None,
) -> dict:
    settings = settings or Settings()
    reports_file, bugs_file = FIXTURE_FILES[fixture]
    reports, bugs = load_reports(reports_file), load_bugs(bugs_file)
    placed = place(reports, load_classifier(classifier_name, threads=threads), settings, config)
    scores = pairwise(placed)
    return {
        "fixture": fixture,
        "classifier": placed[0].post.classifier if placed else classifier_name,
        "threads": thread_counts(),  # what the numeric libraries ran: the --threads limit
        "reports": len(placed),
        "bugs": len({p.report.bug for p in placed}),
        "items": len({p.item for p in placed if p.item is not None}),
        "no_item": sum(p.item is None for p in placed),
        "no_item_why": dict(Counter(_why_no_item(p) for p in placed if p.item is None)),
        "intents": per_language(placed, lambda post: post.intent.label),
        # A report that reads positive is not counted as one by the fix watch and release impacts.
        "sentiments": per_language(placed, lambda post: post.sentiment.label),
        "near_duplicates": sum(p.post.duplicate_of is not None for p in placed),
        "pairwise": {
            s: {**asdict(v), "precision": _round(v.precision), "recall": _round(v.recall)} for s, v in scores.items()
        },
        "apart": {k: dict(v.most_common()) for k, v in missed(placed).items()},
        "merged": [
            {"bugs": [x, y], "near_miss": near, "pairs": n} for (x, y, near), n in merged(placed, bugs).most_common()
        ],
        "per_bug": per_bug(placed, bugs),
        "per_report": [
            {
                "id": p.post.id,
                "bug": p.report.bug,
                "lang": p.report.lang,
                "detected": p.post.language,
                "intent": p.post.intent.label,
                "sentiment": p.post.sentiment.label,
                "products": p.post.products,
                "topics": [t.id for t in p.post.topics],
                "item": p.item,
            }
            for p in placed
        ],  # fmt: skip
    }


def per_language(placed: list[Placed], label_of) -> dict[str, dict[str, int]]:
    """How many reports in each language got each label."""
    return {lang: dict(Counter(label_of(p.post) for p in placed if p.report.lang == lang)) for lang in LANGUAGES}


def _why_no_item(p: Placed) -> str:
    return "near-duplicate" if p.post.duplicate_of else f"intent {p.post.intent.label}"


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def report(figures: dict) -> Iterable[str]:
    yield (f"{figures['fixture']}: {figures['reports']} reports of {figures['bugs']} bugs "
           f"({figures['classifier']} classifier, threads: {describe_threads(figures['threads'])}) "
           f"-> {figures['items']} items; {figures['no_item']} reports in no item "
           f"{figures['no_item_why']}, {figures['near_duplicates']} near-duplicates")  # fmt: skip
    yield ""
    yield f"{'pairs':<12}{'precision':>10}{'recall':>8}{'together':>10}{'right':>7}{'same bug':>10}"
    for scope, s in figures["pairwise"].items():
        yield (f"{scope:<12}{_fmt(s['precision']):>10}{_fmt(s['recall']):>8}"
               f"{s['together']:>10}{s['right']:>7}{s['same_bug']:>10}")  # fmt: skip
    yield ""
    for labels in ("intents", "sentiments"):
        for lang, counts in figures[labels].items():
            yield f"{labels}, {lang}: " + ", ".join(f"{label} {n}" for label, n in Counter(counts).most_common())
    for scope, reasons in figures["apart"].items():
        listed = ", ".join(f"{reason} {n}" for reason, n in reasons.items()) or "none"
        yield f"same-bug pairs apart, {scope}: {listed}"
    listed = ", ".join(
        f"{'+'.join(m['bugs'])}{' (near-miss)' if m['near_miss'] else ''} {m['pairs']}" for m in figures["merged"]
    )
    yield f"different-bug pairs together: {listed or 'none'}"
    yield ""
    yield f"{'bug':<34}{'reports':>8}{'items':>6}{'none':>5}{'recall':>8}  each report: lang:intent/product/topic"
    for bug, row in sorted(figures["per_bug"].items()):
        labels = " ".join(
            f"{lab['lang']}:{lab['intent']}/{lab['product'] or '-'}/{lab['topic'] or '-'}" for lab in row["labels"]
        )
        shared = f"  <> {', '.join(row['shares_items_with'])}" if row["shares_items_with"] else ""
        counts = f"{row['reports']:>8}{row['items']:>6}{row['no_item']:>5}{_fmt(row['recall']):>8}"
        yield f"{bug:<34}{counts}  {labels}{shared}"


def sweep(classifier_name: str, threads: int, fixture: str, config: SignalConfig) -> Iterable[str]:
    """Pairwise precision and recall across and within languages, at each threshold of ``SWEEP``."""
    settings = Settings()
    enriched = enrich_reports(
        load_reports(FIXTURE_FILES[fixture][0]), load_classifier(classifier_name, threads=threads), settings
    )
    yield f"{fixture}, centre weight {config.centre_weight:g}: pairs across languages, and within one"
    yield f"{'threshold':<10}{'precision':>10}{'recall':>8}{'precision':>11}{'recall':>8}"
    for threshold in SWEEP:
        scores = pairwise(group(enriched, replace(config, item_vector_threshold=threshold)))
        across, within = scores["across"], scores["within"]
        yield (f"{threshold:<10.2f}{_fmt(across.precision):>10}{_fmt(across.recall):>8}"
               f"{_fmt(within.precision):>11}{_fmt(within.recall):>8}")  # fmt: skip


def fixture_arguments(description: str, json_help: str) -> argparse.ArgumentParser:
    """The arguments every bench over the grouping fixtures takes: which fixture, which classifier
    on how many threads, and JSON or text."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--fixture", choices=FIXTURE_FILES, default="main", help="which reports to use")
    parser.add_argument("--classifier", default=DEFAULT, help="a load_classifier name")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads the classifier may use")
    parser.add_argument("--json", action="store_true", help=json_help)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = fixture_arguments(__doc__.split("\n\n")[0], "every figure, per bug and per report, as JSON")
    parser.add_argument("--threshold", type=float, help="item_vector_similarity (default: the setting's)")
    parser.add_argument("--centre-weight", type=float, help="posts a language's prior centre counts for")
    parser.add_argument("--sweep", action="store_true", help="precision and recall at thresholds 0.30 to 0.60")
    args = parser.parse_args(argv)
    config = config_of(Settings(), args.threshold, args.centre_weight)
    if args.sweep:
        print("\n".join(sweep(args.classifier, args.threads, args.fixture, config)))
        return
    figures = run(args.classifier, args.threads, fixture=args.fixture, config=config)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        print("\n".join(report(figures)))


if __name__ == "__main__":
    main()
