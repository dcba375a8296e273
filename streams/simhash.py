"""Near-duplicate fingerprints: 64-bit SimHash over normalised text features.

Two posts whose fingerprints differ in at most ``max_distance`` bits are near
duplicates. Splitting the fingerprint into ``max_distance + 1`` bands means
near duplicates always share one band exactly (pigeonhole), so a lookup only
compares against posts that share a band, never against every recent post.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from canyu.writing import CJK

BITS = 64
_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"[@#]\S+")
_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    """Case, width, links, mentions, hashtags and punctuation do not make a post new."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _MENTION.sub(" ", _URL.sub(" ", text))
    return " ".join(_WORD.findall(text))


def features(text: str) -> list[str]:
    """Words for alphabetic scripts, character bigrams for CJK and Hangul (which have no spaces)."""
    feats: list[str] = []
    for word in normalise(text).split():
        if CJK.search(word):
            feats += [word[i : i + 2] for i in range(max(1, len(word) - 1))]
        else:
            feats.append(word)
    return feats


def simhash(text: str) -> int:
    return fingerprint(features(text))


@lru_cache(maxsize=200_000)
def _digest(feature: str) -> bytes:
    return hashlib.blake2b(feature.encode(), digest_size=8).digest()  # words recur: most are cached


def fingerprint(feats: Sequence[str]) -> int:
    """Bit i is set when most features' hashes have bit i set (numpy: the per-bit vote is the hot loop)."""
    if not feats:
        return 0
    digests = b"".join(map(_digest, feats))
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(-1, 8), axis=1)  # most significant first
    return int.from_bytes(np.packbits(2 * bits.sum(axis=0) > len(feats)).tobytes(), "big")


def fingerprint_of(text: str, min_features: int) -> int | None:
    """The text's fingerprint; None when it has fewer than ``min_features`` features to tell by."""
    feats = features(text)
    return fingerprint(feats) if len(feats) >= min_features else None


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def bands(fingerprint: int, count: int) -> list[int]:
    """The fingerprint's ``count`` bands, each tagged with its number (an int: hashed for free)."""
    width = BITS // count
    mask = (1 << width) - 1
    return [i << width | fingerprint >> (i * width) & mask for i in range(count)]
