"""Language identification: the writing system decides CJK, lingua decides the rest.

Han, kana and Hangul settle Chinese, Japanese and Korean on their own, faster and
more surely than any statistical model, and they decide mixed posts such as
"小米14的camera真的很好" (a Chinese post with English words in it) by counting words:
each CJK character counts as one, each Latin word as one. Text in other scripts
goes to lingua (``lingua-language-detector``, Apache-2.0), restricted to the
languages of canyu's markets so that short posts are not called Yoruba. Text with
nothing to go on (emoji, numbers, punctuation) is "und".
"""

from __future__ import annotations

import re

from canyu.writing import HAN, HANGUL, KANA

LETTER_WORD = re.compile(r"[^\W\d_]{2,}")  # words of two or more letters; CJK is counted apart
LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")

# Below this confidence lingua's best guess is no better than "und".
MIN_CONFIDENCE = 0.2
LINGUA_LANGUAGES = (
    "ENGLISH", "SPANISH", "FRENCH", "GERMAN", "PORTUGUESE", "ITALIAN", "DUTCH", "RUSSIAN", "UKRAINIAN",
    "TURKISH", "ARABIC", "HINDI", "BENGALI", "THAI", "VIETNAMESE", "INDONESIAN", "MALAY", "TAGALOG", "POLISH",
)  # fmt: skip


def cjk_language(text: str) -> str | None:
    """zh, ja or ko when CJK characters outnumber the other words, else None."""
    hangul, kana, han = len(HANGUL.findall(text)), len(KANA.findall(text)), len(HAN.findall(text))
    cjk = hangul + kana + han
    if not cjk:
        return None
    others = len(LATIN_WORD.findall(text))
    if others > cjk:
        return None
    if hangul >= kana + han:
        return "ko"
    return "ja" if kana else "zh"  # Japanese mixes kana with Han; any kana means it is not Chinese


class LanguageIdentifier:
    def __init__(self) -> None:
        from lingua import Language, LanguageDetectorBuilder

        languages = [getattr(Language, name) for name in LINGUA_LANGUAGES]
        # Loaded now (0.7 s): lingua otherwise loads each language's model on first sight,
        # which stalls the first batches for seconds.
        self._lingua = LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()

    def detect(self, texts: list[str]) -> list[str]:
        out = [cjk_language(t) for t in texts]
        rest = [i for i, lang in enumerate(out) if lang is None and LETTER_WORD.search(texts[i])]
        # One at a time: as fast as lingua's thread pool on two cores, and no contention with numpy's.
        for i in rest:
            confidences = self._lingua.compute_language_confidence_values(texts[i])
            best = confidences[0] if confidences else None
            if best is not None and best.value >= MIN_CONFIDENCE:
                out[i] = best.language.iso_code_639_1.name.lower()
        return [lang or "und" for lang in out]
