"""Whether a post says the problem it is about is gone, by the word lists of ``models/resolution.yaml``.

A post that reads as a bug report can say the bug is fixed ("1.0.7.1 is out and fixes it");
the classifier's sentiment misses many of these, and reads many plain reports as positive, so
the fix watch asks this as well (``streams.feedback``). The YAML file says when a cue counts.
A bad file fails at load, with what it lacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from models.lexicon import compile_terms, negated_at

KEYS = ("cues", "before", "after", "still")
# A full stop ends a sentence only before a space or the end: "1.0.7.1" is one word.
SENTENCE_END = re.compile(r"\.(?=\s|$)|[!?。！？\n]")
QUESTION_END = "?？"


@dataclass(frozen=True)
class ResolutionCues:
    cues: re.Pattern[str]
    before: re.Pattern[str]
    after: re.Pattern[str]
    still: re.Pattern[str]

    @classmethod
    def load(cls, path: Path | None = None) -> ResolutionCues:
        source = path or resources.files("models").joinpath("resolution.yaml")
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        try:
            lists = {key: [term for terms in data[key].values() for term in terms or ()] for key in KEYS}
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{source}: needs {', '.join(KEYS)}, each a list of words per language ({e!r})") from e
        if not lists["cues"]:
            raise ValueError(f"{source}: no cues")
        patterns = {key: compile_terms(terms) for key, terms in lists.items()}
        # the words of `after` go on from the cue, past any spaces: "fixed for a day"
        patterns["after"] = re.compile(rf"\s*(?:{patterns['after'].pattern})", re.IGNORECASE)
        return cls(**patterns)

    def says_resolved(self, text: str) -> bool:
        """Whether ``text`` says the problem it is about is gone (the file's header says when)."""
        for m in self.cues.finditer(text):
            if negated_at(text, m.start()) or self.after.match(text, m.end()):
                continue
            begin, stop = _sentence(text, m.start(), m.end())
            if self.before.search(text, begin, m.start()) or (stop is not None and stop.group() in QUESTION_END):
                continue
            return not self.still.search(text, m.end(), stop.start() if stop else len(text))
        return False


def _sentence(text: str, start: int, end: int) -> tuple[int, re.Match[str] | None]:
    """Where the sentence around ``text[start:end]`` begins, and the mark that ends it (None: the text's end)."""
    begin = max((e.end() for e in SENTENCE_END.finditer(text, 0, start)), default=0)
    return begin, SENTENCE_END.search(text, end)
