"""Language identification: canyu's detector against lingua alone and the script rule.

    python -m bench.langid --data ../shared/data [--per-set 1000]

Scores accuracy and posts/s on rows of the zh, ko and en dev sets (whose language
is known) and on a small hand-written set of mixed-script and other-language posts.
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from models.langid import LINGUA_LANGUAGES, LanguageIdentifier
from models.lexicon import detect_script_language
from training.devdata import load_splits

MIXED = [
    ("小米14的camera真的很好", "zh"),
    ("iPhone 15 Pro 的电池 drain 太快了", "zh"),
    ("刚买的 Galaxy S24 Ultra，拍照 amazing!!!", "zh"),
    ("업데이트 후 wifi 안됨", "ko"),
    ("갤럭시 S24 camera 진짜 좋아요", "ko"),
    ("バッテリーの持ちが悪い", "ja"),
    ("iOS 18にアップデートしたら電池が減る", "ja"),
    ("I really love the new camera on this phone 手机", "en"),
    ("the battery of my phone drains fast lol", "en"),
    ("la batería dura muy poco", "es"),
    ("la batterie se vide trop vite", "fr"),
    ("der Akku hält nicht lange", "de"),
    ("pin điện thoại hết rất nhanh", "vi"),
    ("baterai cepat habis setelah update", "id"),
]


def lingua_only():
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, n) for n in (*LINGUA_LANGUAGES, "CHINESE", "JAPANESE", "KOREAN")]
    detector = LanguageDetectorBuilder.from_languages(*languages).build()

    def detect(texts: list[str]) -> list[str]:
        found = detector.detect_languages_in_parallel_of(texts)
        return [lang.iso_code_639_1.name.lower() if lang else "und" for lang in found]

    return detect


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--per-set", type=int, default=1000, help="rows drawn (seeded) from each dev set")
    args = parser.parse_args(argv)

    rng = random.Random(0)
    sets = {"mixed": MIXED}
    pools: dict[str, list] = {}
    for split in load_splits(args.data):
        key = "intent" if split.task == "intent" else split.language
        pools.setdefault(key, []).extend((e.text, split.language) for e in split.train + split.test)
    for key, rows in pools.items():
        sets[key] = rng.sample(rows, min(args.per_set, len(rows)))
    detectors = {
        "script rule (lexicon)": lambda texts: [detect_script_language(t) for t in texts],
        "lingua alone": lingua_only(),
        "canyu (scripts + lingua)": LanguageIdentifier().detect,
    }
    print(f"{'detector':<26}" + "".join(f"{name:>10}" for name in sets) + f"{'posts/s':>10}")
    for name, detect in detectors.items():
        cells, posts, seconds = [], 0, 0.0
        for rows in sets.values():
            texts = [t for t, _ in rows]
            began = time.perf_counter()
            found = detect(texts)
            seconds += time.perf_counter() - began
            posts += len(texts)
            cells.append(sum(f == lang for f, (_, lang) in zip(found, rows, strict=True)) / len(rows))
        print(f"{name:<26}" + "".join(f"{c:>10.3f}" for c in cells) + f"{posts / seconds:>10.0f}")


if __name__ == "__main__":
    main()
