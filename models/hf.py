"""The transformers backend: named Hugging Face models, for users who can fetch them.

Sentiment comes from a ``text-classification`` model (by default the multilingual
``cardiffnlp/twitter-xlm-roberta-base-sentiment``); intent and topics from a
zero-shot NLI model (by default ``MoritzLaurer/multilingual-MiniLMv2-L6-mnli-xnli``)
against the intent labels and the taxonomy's English names. Language comes from
``models.langid``. Needs ``pip install 'canyu[transformers]'`` (torch).

The hub is offline unless ``hf_offline`` is false: a model that is not already in
the local cache (or a local folder) fails at once with an error that names it and
the offline default, instead of hanging on the network.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from canyu.schema import INTENT_LABELS, SENTIMENT_LABELS
from models.base import Classification, Scored, clean_texts, empty_classification, is_blank
from models.langid import LanguageIdentifier
from models.taxonomy import load_taxonomy

MAX_TOKENS = 256  # longer posts are truncated to their beginning
INTENT_HYPOTHESES = {
    "bug_report": "a bug report",
    "feature_request": "a feature request",
    "question": "a question",
    "complaint": "a complaint",
    "praise": "praise",
    "other": "a statement",
}
TOPIC_THRESHOLD = 0.5
_LABEL_INDEX = re.compile(r"^label_(\d+)$")


class ModelUnavailable(RuntimeError):
    """A named model that could not be loaded (not cached, hub offline or unreachable)."""


@dataclass(frozen=True)
class TransformersOptions:
    sentiment_model: str = "cardiffnlp/twitter-xlm-roberta-base-sentiment"
    sentiment_revision: str | None = None
    zero_shot_model: str | None = "MoritzLaurer/multilingual-MiniLMv2-L6-mnli-xnli"
    zero_shot_revision: str | None = None
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    quantize: bool = False  # dynamic int8 quantisation of the linear layers (CPU only)
    batch_size: int = 32
    offline: bool = True


def sentiment_label(label: str, n_labels: int) -> str:
    """A model's label name in canyu's terms: "Negative", "LABEL_0", "negative (stars 1, 2 and 3)"..."""
    name = label.lower()
    for canyu_label, cue in (("negative", "neg"), ("neutral", "neu"), ("positive", "pos")):
        if cue in name:
            return canyu_label
    index = _LABEL_INDEX.match(name)
    if index and n_labels in (2, 3):
        return ("negative", "positive")[int(index[1])] if n_labels == 2 else SENTIMENT_LABELS[int(index[1])]
    raise ValueError(f"cannot tell the sentiment of label {label!r}; name the labels negative/neutral/positive")


def _device(name: str) -> int:
    import torch

    if name == "auto":
        return 0 if torch.cuda.is_available() else -1
    return 0 if name == "cuda" else -1


def _pipeline(task: str, model: str, revision: str | None, options: TransformersOptions):
    from transformers import pipeline

    try:
        pipe = pipeline(task, model=model, revision=revision, device=_device(options.device))
    except (OSError, ValueError) as e:
        hint = "the hub is offline (hf_offline=true): put the model in the local cache or name a local folder, or"
        raise ModelUnavailable(
            f"cannot load model {model!r}{f' at revision {revision}' if revision else ''} for {task}: "
            f"{'' if not options.offline else hint + ' '}"
            f"use the offline default, classifier='offline' ({type(e).__name__}: {e})"
        ) from e
    # Over-long posts are truncated to what both canyu and the model's positions allow.
    pipe.tokenizer.model_max_length = min(MAX_TOKENS, pipe.model.config.max_position_embeddings)
    if options.quantize and pipe.device.type == "cpu":
        import torch

        pipe.model = torch.ao.quantization.quantize_dynamic(pipe.model, {torch.nn.Linear}, dtype=torch.qint8)
    return pipe


def _go_offline() -> None:
    """No network from here on: a model not on disk fails at once instead of retrying the hub."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    # huggingface_hub reads the variable once, on import; it may already be imported.
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].constants.HF_HUB_OFFLINE = True


class TransformersClassifier:
    def __init__(self, options: TransformersOptions | None = None) -> None:
        self.options = options = options or TransformersOptions()
        if options.offline:
            _go_offline()
        self._sentiment = _pipeline("text-classification", options.sentiment_model, options.sentiment_revision, options)
        n_labels = self._sentiment.model.config.num_labels
        self._sentiment_labels = {
            label: sentiment_label(label, n_labels) for label in self._sentiment.model.config.id2label.values()
        }
        self._zero_shot = (
            _pipeline("zero-shot-classification", options.zero_shot_model, options.zero_shot_revision, options)
            if options.zero_shot_model
            else None
        )
        self._topics = {t.names.get("en", t.id): t.id for t in load_taxonomy() if not t.fallback}
        self._languages = LanguageIdentifier()
        self._lock = threading.Lock()  # pipelines hold mutable state; one call at a time
        self.name = f"transformers:{options.sentiment_model}" + (
            f"+{options.zero_shot_model}" if options.zero_shot_model else ""
        )

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        texts = clean_texts(texts)
        keep = [i for i, t in enumerate(texts) if not is_blank(t)]
        batch = [texts[i] for i in keep]
        with self._lock:
            sentiments = self._sentiment_scores(batch)
            intents, topics = self._zero_shot_scores(batch)
        languages = self._languages.detect(batch)
        out = [empty_classification() for _ in texts]
        for j, i in enumerate(keep):
            out[i] = Classification(
                language=languages[j],
                sentiment=_best(sentiments[j]),
                intent=_best(intents[j]),
                topics=topics[j],
            )
        return out

    def _sentiment_scores(self, texts: list[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        results = self._sentiment(texts, top_k=None, truncation=True, batch_size=self.options.batch_size)
        out = []
        for result in results:
            scores = dict.fromkeys(SENTIMENT_LABELS, 0.0)
            for item in result:
                scores[self._sentiment_labels[item["label"]]] += float(item["score"])
            out.append(scores)
        return out

    def _zero_shot_scores(self, texts: list[str]) -> tuple[list[dict[str, float]], list[list[tuple[str, float]]]]:
        if self._zero_shot is None or not texts:
            other = {label: float(label == "other") for label in INTENT_LABELS}
            return [dict(other) for _ in texts], [[] for _ in texts]
        by_hypothesis = {h: label for label, h in INTENT_HYPOTHESES.items()}
        intents = [
            {by_hypothesis[h]: float(s) for h, s in zip(r["labels"], r["scores"], strict=True)}
            for r in self._zero_shot(
                texts, candidate_labels=list(by_hypothesis), truncation=True, batch_size=self.options.batch_size
            )
        ]
        topics = [
            [
                (self._topics[name], round(float(s), 6))
                for name, s in zip(r["labels"], r["scores"], strict=True)
                if s >= TOPIC_THRESHOLD
            ]
            for r in self._zero_shot(
                texts, candidate_labels=list(self._topics), multi_label=True, batch_size=self.options.batch_size
            )
        ]
        return intents, topics


def _best(scores: dict[str, float]) -> Scored:
    total = sum(scores.values()) or 1.0
    normalised = {label: round(v / total, 6) for label, v in scores.items()}
    return Scored(max(normalised, key=normalised.__getitem__), normalised)


def load_transformers_classifier() -> TransformersClassifier:
    """The backend as the settings describe it (``CANYU_HF_*``)."""
    from canyu.settings import get_settings

    s = get_settings()
    return TransformersClassifier(
        TransformersOptions(
            sentiment_model=s.classifier.hf_sentiment_model,
            sentiment_revision=s.classifier.hf_sentiment_revision or None,
            zero_shot_model=s.classifier.hf_zero_shot_model or None,
            zero_shot_revision=s.classifier.hf_zero_shot_revision or None,
            device=s.classifier.hf_device,
            quantize=s.classifier.hf_quantize,
            offline=s.classifier.hf_offline,
        )
    )
