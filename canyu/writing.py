"""Writing systems, by Unicode block: the one place their ranges are spelled.

Language identification, cue words, topic rules and near-duplicate shingles all need
to know whether a character is Hangul, kana or Han; they share these classes.
"""

from __future__ import annotations

import re

HANGUL_CHARS = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"  # syllables, jamo, compatibility jamo
KANA_CHARS = "\u3040-\u30ff\u31f0-\u31ff"  # hiragana, katakana, katakana phonetic extensions
HAN_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # extension A, unified, compatibility ideographs
CJK_CHARS = KANA_CHARS + HAN_CHARS + HANGUL_CHARS

HANGUL = re.compile(f"[{HANGUL_CHARS}]")
KANA = re.compile(f"[{KANA_CHARS}]")
HAN = re.compile(f"[{HAN_CHARS}]")
CJK = re.compile(f"[{CJK_CHARS}]")
LATIN_LETTER = re.compile(r"[A-Za-z]")
