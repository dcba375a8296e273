"""The benchmarks' posts: realistic multilingual texts, from ``../shared/data`` when it is there.

Used by ``bench.pipeline`` and ``bench.signals``. Posts come from ``../shared/data`` (zh Weibo
posts, ko movie reviews, en tweets and app bug reports) when it is there, else the built-in
sample corpus, cycled; a text seen again gets a piece of another text appended so that it is
not a near-duplicate of itself. About one post in seven is a repost (some of one hot root per
500, so cascades grow and go viral), one in fifteen opens with a bug report.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

from canyu.schema import Post
from canyu.writing import HAN, HANGUL

LANGS = ("zh", "ko", "en")
SOURCE = {"zh": "weibo", "ko": "cafe", "en": "forum"}
BUG_CUES = {
    "zh": "更新后经常闪退，",
    "ko": "업데이트 후 앱이 자꾸 꺼져요. ",
    "en": "Bug: the app crashes since the update. ",
}


def read_texts(data: Path) -> tuple[dict[str, list[str]], str]:
    """zh, ko and en texts: from ``data`` when it is there, else the built-in sample corpus."""
    texts: dict[str, list[str]] = {lang: [] for lang in LANGS}
    if (data / "README.md").is_file():
        for line in (data / "zh" / "weibo2018_train.txt").read_text(encoding="utf-8").splitlines():
            texts["zh"].append(line.split(",", 2)[-1])  # mid,label,text
        for line in (data / "ko" / "nsmc_raw_subset.jsonl").read_text(encoding="utf-8").splitlines():
            texts["ko"].append(json.loads(line)["review"])
        texts["en"] = (data / "en" / "tweeteval_sentiment_val_text.txt").read_text(encoding="utf-8").splitlines()
        with (data / "intent" / "clap_scalabrino2017_reviews.csv").open(encoding="utf-8") as f:
            texts["en"] += [row["review"] for row in csv.DictReader(f) if row["category"] == "BUG"]
        origin = str(data)
    else:
        for line in (resources.files("canyu") / "sample" / "posts.jsonl").read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"] if line.strip() else ""
            texts["ko" if HANGUL.search(text) else "zh" if HAN.search(text) else "en"].append(text)
        origin = "the built-in sample corpus"
    clean = {lang: [t.strip()[:1000] for t in found if len(t.strip()) >= 4] for lang, found in texts.items()}
    return clean, origin


def post_id(i: int, tag: str) -> str:
    return f"{SOURCE[LANGS[i % len(LANGS)]]}:{tag}{i}"


def make_posts(texts: dict[str, list[str]], n: int, tag: str, first: int = 0) -> Iterator[Post]:
    """``n`` valid posts, the ``first``-th on of the sequence, created in the last ten minutes, ids
    ``<source>:<tag><i>``; lazily, so that 100 000 of them cost no memory. The same arguments
    give the same posts, and posts apart in the sequence are not near-duplicates of each other
    (the stateful step counts a near-duplicate only as its original)."""
    rng = random.Random(tag)
    for i in range(first, first + n):
        lang = LANGS[i % len(LANGS)]
        pool = texts[lang]
        k = i // len(LANGS)
        text = pool[k % len(pool)]
        if k >= len(pool):  # a later pass: not a near-duplicate of the first
            other = rng.choice(pool)
            start = rng.randrange(len(other))
            text = f"{text} {other[start : start + 40]}"
        if i % 15 == 7:
            text = BUG_CUES[lang] + text
        repost_of = None
        if i >= first + 30 and rng.random() < 0.15:  # an earlier post (maybe a repost: depth), or this block's hot root
            parent = max(first, i - i % 500 if rng.random() < 0.3 else i - rng.randint(1, 30))
            repost_of = None if parent == i else post_id(parent, tag)
        now = datetime.now(timezone.utc)
        yield Post(
            id=post_id(i, tag),
            source=SOURCE[lang],
            text=text,
            created_at=now - timedelta(seconds=rng.uniform(0, 600)),
            fetched_at=now,
            author={"id": f"u{rng.randrange(5000)}", "followers": int(10 ** rng.uniform(0, 5))},
            engagement={"likes": rng.randrange(50), "reposts": rng.randrange(5)},
            repost_of=repost_of,
        )
