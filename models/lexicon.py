"""A transparent keyword classifier: word lists, counted. No learning, no magic.

It is the pipeline's always-available baseline. Its language guess comes from the
writing system (Hangul → ko, kana → ja, Han → zh, Latin → en), so it calls every
Latin-script post English. Sentiment and intent come from counting the cue words in
``lexicon.yaml``; negation and sarcasm are beyond it. Scores are smoothed hit
counts, not calibrated probabilities.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from importlib import resources

import yaml

from canyu.writing import HAN, HANGUL, KANA, LATIN_LETTER
from models.base import Classification, Scored

SENTIMENTS = ("negative", "neutral", "positive")
INTENTS = ("bug_report", "feature_request", "question", "complaint", "praise", "other")
MAX_CHARS = 10_000  # longer posts are judged on their beginning

_SCRIPTS = (("ko", HANGUL), ("ja", KANA), ("zh", HAN), ("en", LATIN_LETTER))


def detect_script_language(text: str) -> str:
    counts = {lang: len(pattern.findall(text)) for lang, pattern in _SCRIPTS}
    if counts["ja"]:  # Japanese mixes kana with Han; any kana means it is not Chinese
        counts["ja"] += counts.pop("zh")
    lang, count = max(counts.items(), key=lambda kv: kv[1])
    return lang if count else "und"


NOTHING = r"(?!)"  # what no terms match: an empty pattern would match everywhere


def _is_latin(term: str) -> bool:
    return bool(re.search(r"[A-Za-z]", term)) and not re.search(r"[^\x00-\x7f]", term)


def compile_terms(terms: list[str]) -> re.Pattern[str]:
    """One pattern for ``terms``, longest first: English ones as whole words ("crash*" with any
    ending), the others as substrings; no terms match nothing. The English words share one pair of word-boundary checks:
    a check around each of them costs a lookbehind per word at every position of the text."""
    by_length = sorted(set(terms), key=lambda t: (-len(t), t))
    latin = [re.escape(t.rstrip("*")) + (r"\w*" if t.endswith("*") else "") for t in by_length if _is_latin(t)]
    other = [re.escape(t) for t in by_length if not _is_latin(t)]
    parts = ([rf"(?<!\w)(?:{'|'.join(latin)})(?!\w)"] if latin else []) + other
    return re.compile("|".join(parts) or NOTHING, re.IGNORECASE)


# A negation just before a sentiment cue: English within the three words before it,
# Chinese the character before it ("不好用", "没问题").
_NEGATED_EN = re.compile(
    r"(?<!\w)(?:not|no|never|hardly|without|cannot|\w+n['’]t|isnt|wasnt|dont|doesnt|didnt|wont|cant)"
    r"(?:\W+\w+){0,2}\W+$",
    re.IGNORECASE,
)
_NEGATED_ZH = frozenset("不没别未無无")


def negated_at(text: str, start: int) -> bool:
    before = text[max(0, start - 40) : start]
    if before and before[-1] in _NEGATED_ZH:
        return True
    return bool(_NEGATED_EN.search(before))


def polarity_counts(text: str, positive: re.Pattern[str], negative: re.Pattern[str]) -> tuple[int, int]:
    """(positive, negative) cue counts; a negated positive counts as negative, a negated negative not at all."""
    pos = neg = 0
    for m in positive.finditer(text):
        if negated_at(text, m.start()):
            neg += 1
        else:
            pos += 1
    for m in negative.finditer(text):
        if not negated_at(text, m.start()):
            neg += 1
    return pos, neg


def _smoothed(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {label: round(w / total, 6) for label, w in weights.items()}


class LexiconClassifier:
    name = "lexicon-1"

    def __init__(self) -> None:
        data = yaml.safe_load((resources.files("models") / "lexicon.yaml").read_text(encoding="utf-8"))
        self._sentiment = {
            label: compile_terms(sum(by_lang.values(), [])) for label, by_lang in data["sentiment"].items()
        }
        self._intent = {label: compile_terms(sum(by_lang.values(), [])) for label, by_lang in data["intent"].items()}
        self._topics = {topic: compile_terms(terms) for topic, terms in data["topics"].items()}

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        return [self._one(text) for text in texts]

    def cues(self, text: str) -> dict[str, int]:
        """How many cue words of each sentiment and intent the text holds (other classifiers use them too)."""
        text = unicodedata.normalize("NFKC", text or "")[:MAX_CHARS]
        out = {label: len(pattern.findall(text)) for label, pattern in {**self._sentiment, **self._intent}.items()}
        out["positive"], out["negative"] = polarity_counts(
            text, self._sentiment["positive"], self._sentiment["negative"]
        )
        return out

    def _one(self, text: str) -> Classification:
        text = unicodedata.normalize("NFKC", text or "")[:MAX_CHARS]
        hits = lambda pattern: len(pattern.findall(text))  # noqa: E731
        pos, neg = polarity_counts(text, self._sentiment["positive"], self._sentiment["negative"])
        sentiment_weights = {"negative": neg + 0.2, "neutral": 0.7, "positive": pos + 0.2}
        if pos == neg:
            sentiment = "neutral"
        else:
            sentiment = max(sentiment_weights, key=sentiment_weights.__getitem__)

        cues = {label: hits(pattern) for label, pattern in self._intent.items()}
        cues = {label: count for label, count in cues.items() if label != "other"}  # tips stay "other" anyway
        intent_weights = {label: 0.2 for label in INTENTS}
        intent_weights["other"] = 0.7
        for label, count in cues.items():
            intent_weights[label] += count
        # Without a stronger cue, strong feeling is a complaint or praise.
        intent_weights["complaint"] += max(0, neg - pos) * 0.5
        intent_weights["praise"] += max(0, pos - neg) * 0.5
        intent = max(INTENTS, key=intent_weights.__getitem__)

        topics = [(topic, round(n / (n + 1), 6)) for topic, pattern in self._topics.items() if (n := hits(pattern))]
        topics.sort(key=lambda ts: (-ts[1], ts[0]))
        return Classification(
            language=detect_script_language(text),
            sentiment=Scored(sentiment, _smoothed(sentiment_weights)),
            intent=Scored(intent, _smoothed(intent_weights)),
            topics=topics,
        )
