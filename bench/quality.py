"""Quality of every offline backend on the dev sets' test splits, within and across datasets.

    python -m bench.quality --data ../shared/data --cache /tmp/canyu-vectors [--full] [--within]

(``python -m bench.classifier --quality ...`` runs this and the throughput benchmark in
one run.) For each backend — the offline default (USE), the e5 tier, the cascade, the finetuned
tier (when ``canyu models build`` has built it), the lexicon baseline — and for a
multilingual-e5-small + logistic-regression reference
trained here, in this run, on the training side of the same splits:

- within-dataset: each set's test split;
- cross-dataset (``training.devdata.CROSS``): heads trained in this run without whole
  datasets, scored on those datasets' test splits. The finetuned tier is fine-tuned on
  every set, so it has no cross-dataset score here ("-"): that needs a fine-tuning per test
  (``python -m training.finetune --leave-out SET --out FOLDER``), whose folder
  ``--left-out-finetuned FOLDER ...`` names: it is scored as the finetuned tier on the test whose
  sets it was trained without (its ``manifest.json`` says which).

Every backend is scored on the same rows: the e5 subsample of each test split
(``training.devdata.E5_SUBSAMPLE``; e5 encodes about 30 posts/s on two cores). ``--full``
also scores the default on the whole test splits (capped at ``TEST_CAP``), with
neutral recall and the expected calibration error before and after calibration, and the
finetuned tier's calibration error on the rows above.

Scores: binary sentiment sets, positive v negative accuracy; 3-class sentiment sets,
accuracy (and macro-recall with ``--full``); intent sets, macro-F1 over the set's own
labels (a predicted label the set lacks counts as other; AR-Miner: bug_report,
feature_request and question count as informative).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

from models.offline import SENTIMENTS, SHARED, OfflineClassifier, intent_label
from training.calibration import ece
from training.devdata import CROSS, E5_SUBSAMPLE, INFORMATIVE, VECTOR_SUBSAMPLE, Split, load_splits, subsample
from training.train import macro_f1, parts_for, train_heads
from training.vectors import cached_encode

INTENTS = ("bug_report", "feature_request", "question", "complaint", "praise", "other")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- scoring -------------------------------------------------------------------------


def intent_labels(split: Split, predicted: list[str]) -> tuple[list[str], list[str]]:
    """(predicted, gold) in the set's own terms."""
    gold = [e.label for e in split.test]
    if split.name == "intent/ar_miner":
        return ["informative" if p in INFORMATIVE else "non_informative" for p in predicted], gold
    used = set(gold)
    return [p if p in used else "other" for p in predicted], gold


def score(split: Split, sentiment: np.ndarray, intent_pred: list[str]) -> dict[str, float]:
    """The headline score ("score") and the others that apply."""
    gold = np.array([e.label for e in split.test])
    if split.task == "intent":
        predicted, gold_l = intent_labels(split, intent_pred)
        return {"score": macro_f1(predicted, gold_l)}
    if split.binary:
        predicted = np.where(sentiment[:, 2] >= sentiment[:, 0], "positive", "negative")
        return {"score": float(np.mean(predicted == gold))}
    predicted = np.asarray(SENTIMENTS)[sentiment.argmax(axis=1)]
    recall = {c: float(np.mean(predicted[gold == c] == c)) for c in sorted(set(gold))}
    return {
        "score": float(np.mean(predicted == gold)),
        "macro_recall": float(np.mean(list(recall.values()))),
        "neutral_recall": recall.get("neutral", float("nan")),
    }


def run_pipeline(clf: OfflineClassifier, split: Split, use: np.ndarray, e5: np.ndarray | None):
    texts = [e.text for e in split.test]
    sentiment, intent, _, routed = clf.scores(texts, use, e5)
    return sentiment, [intent_label(p) for p in intent], intent, routed


def sentiment_calibration(split: Split, sentiment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, gold indices): 3-class as is; binary sets over negative v positive, renormalised."""
    gold = [e.label for e in split.test]
    if split.binary:
        p = sentiment[:, [0, 2]]
        return p / p.sum(axis=1, keepdims=True), np.array([0 if g == "negative" else 1 for g in gold])
    return sentiment, np.array([SENTIMENTS.index(g) for g in gold])


def intent_calibration(split: Split, intent: np.ndarray):
    """The intent head's four classes (other = complaint + praise + other) v the set's gold; not AR-Miner."""
    if split.name == "intent/ar_miner":
        return None
    p = np.hstack([intent[:, :3], intent[:, 3:].sum(axis=1, keepdims=True)])
    heads = ("bug_report", "feature_request", "question", "other")
    return p, np.array([heads.index(e.label) for e in split.test])


# ---- the reference -------------------------------------------------------------------


class Reference:
    """multilingual-e5-small vectors + logistic regression: one head per language and one for intent.

    Trained on the e5 subsample of every training split (the rows the e5 tier's vector
    heads see); C chosen from (0.3, 1, 3) on the validation subsample; no n-grams, no cues.
    """

    def __init__(self, parts: dict[str, object]) -> None:
        from training.train import logistic, set_score

        self.models = {}
        groups: dict[str, list] = {}
        for p in parts.values():
            key = p.split.language if p.split.task == "sentiment" else "intent"
            groups.setdefault(key, []).append(p)
        for key, ps in groups.items():
            x = np.vstack([p.vectors["train"] for p in ps])
            y = [e.label for p in ps for e in p.train.train]
            best = None
            for c in (0.3, 1.0, 3.0):
                model = logistic(x, y, c)
                vals = []
                for p in ps:
                    if not p.train.val or len({e.label for e in p.train.val}) < 2:
                        continue
                    proba = model.predict_proba(p.vectors["val"])
                    gold = [e.label for e in p.train.val]
                    if key == "intent":
                        vals.append(macro_f1(model.classes_[proba.argmax(axis=1)], gold))
                    else:
                        vals.append(set_score(proba, model.classes_.tolist(), gold, p.split.binary))
                v = float(np.mean(vals)) if vals else 0.0
                if best is None or v > best[0]:
                    best = (v, model)
            self.models[key] = best[1]

    def predict(self, split: Split, e5: np.ndarray) -> tuple[np.ndarray, list[str]]:
        if split.task == "intent":
            model = self.models["intent"]
            return np.zeros((len(e5), 3)), model.classes_[model.predict_proba(e5).argmax(axis=1)].tolist()
        model = self.models[split.language]
        p = model.predict_proba(e5)
        out = np.zeros((len(e5), 3))
        for j, label in enumerate(model.classes_):
            out[:, SENTIMENTS.index(label)] = p[:, j]
        return out, []


# ---- the run -------------------------------------------------------------------------


def _with_heads(base: OfflineClassifier, heads: dict, e5_heads: dict | None, tier: str) -> OfflineClassifier:
    """A shallow copy of ``base`` with trained-here heads swapped in (the encoders are shared)."""
    clf = copy.copy(base)
    clf.tier = tier
    clf.sentiment = {k.removeprefix("sentiment_"): v for k, v in heads.items() if k.startswith("sentiment_")}
    clf.intent = heads["intent"]
    if e5_heads is not None:
        clf.e5_sentiment = {k.removeprefix("sentiment_"): v for k, v in e5_heads.items() if k.startswith("sentiment_")}
        clf.e5_intent = e5_heads["intent"]
    return clf


def _score_all(small, vec, lexicon, clf_default, clf_cascade, reference, tests, tuned=None, tuned_rows=None):
    """Each tier's mean score over ``tests`` (split names), and the share the cascade routed to e5.

    ``tuned``: the finetuned tier, when built (None: its column is nan); its calibration rows go to
    ``tuned_rows`` by task, when given."""
    row: dict[str, list] = {k: [] for k in ("default", "e5", "cascade", "finetuned", "reference", "lexicon")}
    routed = []
    for t in tests:
        s = small[t]
        use, e5 = vec[t]
        for tier, clf in (("default", clf_default), ("cascade", clf_cascade)):
            sentiment, labels, _, r = run_pipeline(clf, s, use, e5)
            row[tier].append(score(s, sentiment, labels)["score"])
            if tier == "cascade":
                routed.append(float(np.mean(r)))
        e5_clf = copy.copy(clf_cascade)
        e5_clf.tier = "e5"
        sentiment, labels, _, _ = run_pipeline(e5_clf, s, use, e5)
        row["e5"].append(score(s, sentiment, labels)["score"])
        sentiment, labels = reference.predict(s, e5)
        row["reference"].append(score(s, sentiment, labels)["score"])
        out = lexicon.classify([e.text for e in s.test])
        sentiment = np.array([[c.sentiment.scores[k] for k in SENTIMENTS] for c in out])
        row["lexicon"].append(score(s, sentiment, [c.intent.label for c in out])["score"])
        if tuned is not None:
            sentiment, labels, intent, _ = run_pipeline(tuned, s, None, None)
            row["finetuned"].append(score(s, sentiment, labels)["score"])
            if tuned_rows is not None:
                tuned_rows.setdefault(s.language if s.task == "sentiment" else "intent", []).append(
                    sentiment_calibration(s, sentiment) if s.task == "sentiment" else intent_calibration(s, intent)
                )
    return {k: float(np.mean(v)) if v else float("nan") for k, v in row.items()}, float(np.mean(routed))


def _left_out_tiers(shipped, splits, parts, encoders, left_out, only):
    """The shipped classifier's default and cascade tiers with heads trained without ``left_out``."""
    (use_parts, e5_parts), (use_enc, e5_enc) = parts, encoders
    heads, _ = train_heads(splits, use_parts, use_enc.dim, left_out, only)
    e5_heads, _ = train_heads(splits, e5_parts, e5_enc.dim, left_out, only)
    full = {f"sentiment_{k}": v for k, v in shipped.sentiment.items()} | {"intent": shipped.intent}
    full_e5 = {f"sentiment_{k}": v for k, v in shipped.e5_sentiment.items()} | {"intent": shipped.e5_intent}
    default = _with_heads(shipped, full | heads, full_e5 | e5_heads, "default")
    return default, _with_heads(shipped, full | heads, full_e5 | e5_heads, "cascade")


def evaluate(args) -> dict:
    from models.encoder import E5Encoder, Encoder
    from models.lexicon import LexiconClassifier

    splits = load_splits(args.data)
    by_name = {s.name: s for s in splits}
    use_enc, e5_enc = Encoder(), E5Encoder()
    use_parts = parts_for(use_enc, args.cache, VECTOR_SUBSAMPLE)
    e5_parts = parts_for(e5_enc, args.cache, E5_SUBSAMPLE)
    small = {s.name: subsample(s, E5_SUBSAMPLE) for s in splits}
    vec = {
        s.name: (
            cached_encode(use_enc, [e.text for e in small[s.name].test], args.cache, f"{s.name} e5 test rows"),
            e5_parts(s).vectors["test"],
        )
        for s in splits
    }
    shipped = OfflineClassifier(tier="cascade")
    shipped_default = copy.copy(shipped)
    shipped_default.tier = "default"
    lexicon = LexiconClassifier()
    finetuned = load_finetuned()
    left_out_tuned = load_left_out_finetuned(args.left_out_finetuned)
    results: dict = {"within": {}, "cross": {}, "routed": {}}
    tuned_rows: dict[str, list] = {}
    _log("reference: e5 + logistic regression on every training split")
    reference = Reference({s.name: e5_parts(s) for s in splits})
    for s in splits:
        if args.only and args.only not in s.name:
            continue
        results["within"][s.name], results["routed"][s.name] = _score_all(
            small, vec, lexicon, shipped_default, shipped, reference, [s.name], finetuned, tuned_rows
        )
        _log(f"  within {s.name}: {results['within'][s.name]}")
    for title, left_out, tests in CROSS:
        tests = [t for t in tests if t in by_name]
        if not tests or (args.only and args.only not in title) or args.within:
            continue
        _log(f"cross: {title}")
        language = by_name[tests[0]].language if by_name[tests[0]].task == "sentiment" else "intent"
        only = ("intent",) if language == "intent" else (language, SHARED)
        default, cascade = _left_out_tiers(shipped, splits, (use_parts, e5_parts), (use_enc, e5_enc), left_out, only)
        ref = Reference({n: e5_parts(by_name[n]) for n in by_name if n not in left_out})
        tuned = left_out_tuned.get(frozenset(left_out))
        scored = _score_all(small, vec, lexicon, default, cascade, ref, tests, tuned)
        results["cross"][title], results["routed"][title] = scored
        _log(f"  {results['cross'][title]}")
    results["finetuned_calibration"] = {k: [r for r in v if r is not None] for k, v in tuned_rows.items()}
    results["finetuned_temperature"] = finetuned.model.temperature if finetuned is not None else None
    return results


def load_finetuned():
    """The finetuned tier as ``canyu models build`` left it, or None (said why) when it is not built."""
    from models.hf import ModelUnavailable

    try:
        from models.finetuned import FinetunedClassifier

        return FinetunedClassifier()
    except (ModelUnavailable, ImportError) as e:
        _log(f"finetuned tier not scored: {e}")
        return None


def load_left_out_finetuned(folders: list[Path]) -> dict[frozenset, object]:
    """Fine-tuned models trained without some sets (``training.finetune --leave-out``), by those sets."""
    from models.finetuned import FinetunedClassifier

    models = {}
    for folder in folders:
        left_out = json.loads((folder / "manifest.json").read_text())["settings"]["leave_out"]
        if not left_out:
            raise SystemExit(f"{folder} was fine-tuned on every set: it has no cross-dataset test")
        models[frozenset(left_out)] = FinetunedClassifier(folder)
        _log(f"finetuned without {', '.join(left_out)}: {folder}")
    return models


CASCADE_GRID = ((0.45, 0.4), (0.5, 0.4), (0.55, 0.45), (0.6, 0.5), (0.65, 0.55), (0.7, 0.6), (0.75, 0.65))


def cascade_grid(args) -> None:
    """The cascade's thresholds on validation: the mean score over the validation subsamples, and the
    share of posts sent to e5, for each (sentiment, intent) threshold pair; the e5 tier and the default
    for comparison. Never the test splits."""
    from models.encoder import E5Encoder, Encoder

    splits = load_splits(args.data)
    use_enc = Encoder()
    e5_parts = parts_for(E5Encoder(), args.cache, E5_SUBSAMPLE)
    clf = OfflineClassifier(tier="cascade")
    rows = []
    for s in splits:
        small = e5_parts(s)
        val = Split(s.name, s.task, [], small.train.val, [], s.language, s.domain)
        if len({e.label for e in val.test}) < 2:
            continue
        rows.append((val, cached_encode(use_enc, [e.text for e in val.test], args.cache), small.vectors["val"]))
    print("\n== cascade thresholds on the validation subsamples (mean score, share sent to e5)")

    def mean_score(c):
        scores, routed = [], []
        for val, use, e5 in rows:
            sentiment, labels, _, r = run_pipeline(c, val, use, e5)
            scores.append(score(val, sentiment, labels)["score"])
            routed.append(np.mean(r))
        return float(np.mean(scores)), float(np.mean(routed))

    for tier in ("default", "e5"):
        c = copy.copy(clf)
        c.tier = tier
        print(f"{tier:<22}{mean_score(c)[0]:>9.4f}")
    for pair in CASCADE_GRID:
        c = copy.copy(clf)
        c.cascade = pair
        sc, routed = mean_score(c)
        print(f"cascade {pair[0]:.2f} {pair[1]:.2f}    {sc:>9.4f}{routed:>8.2f}")


NEUTRAL_WEIGHTS = (0.5, 0.75, 1.0, 1.5)


def cue_grid(args) -> None:
    """The neutral cue words' weight on validation: the default's mean score over every sentiment
    set's validation rows, and its neutral recall where the set has neutral rows. Never the test splits."""
    from models.encoder import Encoder

    enc = Encoder()
    clf = OfflineClassifier()
    rows = []
    for s in load_splits(args.data):
        if s.task != "sentiment" or not s.val:
            continue
        val = Split(s.name, s.task, [], [e for e in s.val if not (s.binary and e.label == "neutral")], [], s.language)
        rows.append((val, cached_encode(enc, [e.text for e in val.test], args.cache)))
    print("\n== the neutral cue weight on the validation splits (mean score, mean neutral recall)")
    for w in NEUTRAL_WEIGHTS:
        c = copy.copy(clf)
        c.neutral_cue_weight = w
        scores, neutral = [], []
        for val, use in rows:
            sentiment, labels, _, _ = run_pipeline(c, val, use, None)
            sc = score(val, sentiment, labels)
            scores.append(sc["score"])
            if "neutral_recall" in sc:
                neutral.append(sc["neutral_recall"])
        print(f"{w:<8}{np.mean(scores):>9.4f}{np.mean(neutral):>9.4f}")


def full_default(args) -> None:
    """The default on the whole test splits: scores, neutral recall, and ECE before and after calibration."""
    from models.encoder import Encoder

    splits = load_splits(args.data)
    enc = Encoder()
    clf = OfflineClassifier()
    raw = copy.copy(clf)
    raw.sentiment = {k: copy.copy(h) for k, h in clf.sentiment.items()}
    raw.intent = copy.copy(clf.intent)
    for h in (*raw.sentiment.values(), raw.intent):
        h.temperature = 1.0
    print("\n== the offline default on the whole test splits (within-dataset)")
    print(f"{'set':<22}{'rows':>6}{'score':>9}{'macro-rec':>11}{'neutral-rec':>13}")
    pooled: dict[str, dict[str, list]] = {}
    for s in splits:
        use = cached_encode(enc, [e.text for e in s.test], args.cache, f"{s.name} test")
        for kind, c in (("after", clf), ("before", raw)):
            sentiment, labels, intent, _ = run_pipeline(c, s, use, None)
            if kind == "after":
                sc = score(s, sentiment, labels)
                print(
                    f"{s.name:<22}{len(s.test):>6}{sc['score']:>9.4f}"
                    + (f"{sc['macro_recall']:>11.4f}{sc['neutral_recall']:>13.4f}" if "macro_recall" in sc else "")
                )
            key = s.language if s.task == "sentiment" else "intent"
            cal = sentiment_calibration(s, sentiment) if s.task == "sentiment" else intent_calibration(s, intent)
            if cal is not None:
                pooled.setdefault(key, {}).setdefault(kind, []).append(cal)
    print("\n== expected calibration error (15 bins, top label) on the test splits, pooled")
    print(f"{'task':<12}{'rows':>7}{'before':>9}{'after':>9}")
    for key, kinds in pooled.items():
        cells = []
        for kind in ("before", "after"):
            rows = kinds[kind]
            # binary and 3-class sets pool by their own top-label confidence
            e = sum(ece(p, g) * len(g) for p, g in rows) / sum(len(g) for _, g in rows)
            cells.append(e)
        n = sum(len(g) for _, g in kinds["after"])
        name = "sentiment " + key if key != "intent" else "intent"
        print(f"{name:<12}{n:>7}{cells[0]:>9.4f}{cells[1]:>9.4f}")


def report(results: dict) -> None:
    backends = ("default", "e5", "cascade", "finetuned", "reference", "lexicon")
    names = {
        "default": "offline",
        "e5": "e5 tier",
        "cascade": "cascade",
        "finetuned": "finetuned",
        "reference": "e5+LR ref",
        "lexicon": "lexicon",
    }
    print("\n== quality on the e5 subsample of each test split (the same rows for every backend)")
    print(f"{'test':<52}" + "".join(f"{names[b]:>11}" for b in backends) + f"{'routed':>8}")
    for section in ("within", "cross"):
        print(f"-- {section}-dataset")
        for name, row in results[section].items():
            print(f"{name[:51]:<52}" + "".join(_cell(row[b]) for b in backends) + f"{results['routed'][name]:>8.2f}")
    for section in ("within", "cross"):
        rows = list(results[section].values())
        print(f"{'mean ' + section:<52}" + "".join(_cell(np.mean([r[b] for r in rows])) for b in backends))
    calibration = results.get("finetuned_calibration")
    if calibration:
        print("\n== the finetuned tier's expected calibration error (15 bins, top label) on the rows above, pooled")
        print(f"{'task':<14}{'rows':>7}{'before':>9}{'after':>9}   (temperature {results['finetuned_temperature']})")
        t = results["finetuned_temperature"]
        for key, rows in calibration.items():
            n = sum(len(g) for _, g in rows)
            after = sum(ece(p, g) * len(g) for p, g in rows) / n
            head = "sentiment" if key != "intent" else "intent"
            before = sum(ece(_untempered(p, t[head]), g) * len(g) for p, g in rows) / n
            name = "sentiment " + key if key != "intent" else "intent"
            print(f"{name:<14}{n:>7}{before:>9.4f}{after:>9.4f}")


def _cell(value: float) -> str:
    return f"{'-':>11}" if np.isnan(value) else f"{value:>11.4f}"


def _untempered(p: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities as they were before calibration: softmax(log p x T) undoes softmax(z / T)."""
    z = np.log(np.clip(p, 1e-30, 1)) * temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/canyu-vectors"))
    parser.add_argument("--full", action="store_true", help="also the default on the whole test splits, with ECE")
    parser.add_argument("--cascade-grid", action="store_true", help="only the cascade thresholds on validation")
    parser.add_argument("--cue-grid", action="store_true", help="only the neutral cue weight on validation")
    parser.add_argument("--full-only", action="store_true", help="only the default on the whole test splits")
    parser.add_argument("--only", help="only the tests whose name contains this (e.g. intent)")
    parser.add_argument("--within", action="store_true", help="only the within-dataset tests (no heads trained)")
    parser.add_argument(
        "--left-out-finetuned",
        type=Path,
        nargs="*",
        default=[],
        metavar="FOLDER",
        help="models of training.finetune --leave-out, scored on their cross-dataset tests",
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.full_only:
        full_default(args)
        return
    if args.cascade_grid:
        cascade_grid(args)
        return
    if args.cue_grid:
        cue_grid(args)
        return
    report(evaluate(args))
    if args.full:
        full_default(args)
    print(f"\n({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
