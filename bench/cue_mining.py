"""Candidate cue words for ``models/lexicon.yaml``, mined from the phone-review and brand-tweet sets.

    python -m bench.cue_mining --data ../shared/data [--top 60]

For each language's phone-review and brand-tweet training splits (``training.devdata``,
training side only), the words and word pairs (character 2-3-grams for zh) whose
log-odds between negative and positive rows, with an informative Dirichlet prior
(Monroe et al., 2008), are the most extreme. Prints candidates best first, with counts;
a person picks the ones that are phone talk (the lexicon is hand-edited, not generated).
"""

from __future__ import annotations

import argparse
import math
import re
from collections import Counter
from pathlib import Path

from training.devdata import load_splits

SETS = {
    "en": ("en/amazon_5core", "en/amazon_unlocked", "en/amazon_titles", "en/cf_brands", "en/cf_apple", "en/sanders"),
    "zh": ("zh/nlpcc2014", "zh/weibo2018"),
}
_WORD = re.compile(r"[a-z']+")


def terms(text: str, language: str) -> set[str]:
    text = text.lower()
    if language == "zh":
        chars = re.sub(r"[^\u4e00-\u9fff]", " ", text)
        return {chars[i : i + n] for n in (2, 3) for i in range(len(chars) - n + 1) if " " not in chars[i : i + n]}
    words = _WORD.findall(text)
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}


def log_odds(a: Counter, b: Counter, prior: Counter, alpha: float = 0.01) -> dict[str, float]:
    """z-scored log-odds of each term between a and b, with prior counts ``alpha`` x its total."""
    na, nb, n0 = sum(a.values()), sum(b.values()), sum(prior.values())
    out = {}
    for term, count in prior.items():
        p = alpha * count
        ya, yb = a[term] + p, b[term] + p
        delta = math.log(ya / (na + alpha * n0 - ya)) - math.log(yb / (nb + alpha * n0 - yb))
        out[term] = delta / math.sqrt(1 / ya + 1 / yb)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--min-count", type=int, default=8)
    args = parser.parse_args(argv)
    for language, names in SETS.items():
        rows = [e for s in load_splits(args.data, names) for e in s.train]
        counts = {label: Counter() for label in ("negative", "neutral", "positive")}
        for e in rows:
            counts[e.label].update(terms(e.text, language))
        total = counts["negative"] + counts["positive"] + counts["neutral"]
        prior = Counter({t: c for t, c in total.items() if c >= args.min_count})
        z = log_odds(counts["negative"], counts["positive"], prior)
        ranked = sorted(z, key=z.get)
        print(f"== {language} ({len(rows)} training rows of {', '.join(names)})")
        for title, picked in (("negative", ranked[::-1][: args.top]), ("positive", ranked[: args.top])):
            print(f"-- {title}: " + ", ".join(f"{t} ({counts['negative'][t]}/{counts['positive'][t]})" for t in picked))


if __name__ == "__main__":
    main()
