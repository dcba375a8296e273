"""The topic taxonomy: an editable YAML file of topics, their rules and descriptions.

A post matches a topic by rule (score 1.0), or by the cosine similarity of its
sentence vector to the topic's description when that reaches the threshold (score:
the similarity). A post with text and no other match gets the fallback topic. A bad
file fails at load with its line and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from canyu.writing import CJK
from models.base import is_blank

ID = re.compile(r"^[a-z][a-z0-9_]*$")
TOPIC_KEYS = {"id", "names", "description", "rules", "threshold", "fallback"}


class TaxonomyError(ValueError):
    """A taxonomy file that cannot be used, with where and why."""


@dataclass(frozen=True)
class Topic:
    id: str
    names: dict[str, str]
    description: str
    rules: tuple[tuple[re.Pattern[str], ...], ...]  # any rule matches when all its parts match
    threshold: float
    fallback: bool = False

    def rule_matches(self, text: str) -> bool:
        return any(all(part.search(text) for part in rule) for rule in self.rules)


def _term(term: str) -> str:
    """CJK terms match anywhere; Latin terms match whole words, with a trailing * for any ending."""
    body = re.escape(term.rstrip("*")) + (r"\w*" if term.endswith("*") else "")
    return body if CJK.search(term) else rf"(?<!\w){body}(?!\w)"


def compile_rule(rule: str) -> tuple[re.Pattern[str], ...]:
    """``a|b`` matches either term; ``a & b|c`` needs a, and b or c."""
    parts = []
    for conjunct in rule.split("&"):
        terms = [t.strip() for t in conjunct.split("|")]
        if not all(terms):
            raise ValueError(f"empty term in rule {rule!r}")
        parts.append(re.compile("|".join(_term(t) for t in terms), re.IGNORECASE))
    return tuple(parts)


def _fail(source: str, node: yaml.Node, reason: str) -> TaxonomyError:
    return TaxonomyError(f"{source}:{node.start_mark.line + 1}: {reason}")


def _topic(source: str, node: yaml.Node, default_threshold: float) -> Topic:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(source, node, "a topic must be a mapping with id, names and description")
    raw = {key.value: value for key, value in node.value}
    value = {key: yaml.safe_load(yaml.serialize(item)) for key, item in raw.items()}
    if unknown := set(raw) - TOPIC_KEYS:
        raise _fail(source, node, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(TOPIC_KEYS)}")
    for key in ("id", "names", "description"):
        if key not in raw:
            raise _fail(source, node, f"topic has no {key!r}")
    if not isinstance(value["id"], str) or not ID.match(value["id"]):
        raise _fail(source, raw["id"], f"topic id {value['id']!r} must be snake_case (a-z, 0-9, _)")
    names = value["names"]
    if not isinstance(names, dict) or not names or not all(isinstance(v, str) and v for v in names.values()):
        raise _fail(source, raw["names"], "names must map language codes to non-empty names")
    if not isinstance(value["description"], str) or not value["description"].strip():
        raise _fail(source, raw["description"], "description must be non-empty text")
    rules = value.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise _fail(source, raw.get("rules", node), "rules must be a list of strings")
    compiled = []
    for item, rule in zip(raw["rules"].value if rules else [], rules, strict=True):
        try:
            compiled.append(compile_rule(rule))
        except (ValueError, re.error) as e:
            raise _fail(source, item, f"bad rule: {e}") from e
    threshold = value.get("threshold", default_threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise _fail(source, raw.get("threshold", node), f"threshold must be in (0, 1], got {threshold!r}")
    return Topic(
        value["id"], names, value["description"], tuple(compiled), float(threshold), bool(value.get("fallback"))
    )


def parse_taxonomy(text: str, source: str = "<taxonomy>") -> list[Topic]:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        raise TaxonomyError(f"{source}: not valid YAML: {e}") from e
    if not isinstance(root, yaml.MappingNode):
        raise TaxonomyError(f"{source}:1: the file must be a mapping with a 'topics' list")
    top = {key.value: value for key, value in root.value}
    threshold = yaml.safe_load(yaml.serialize(top["threshold"])) if "threshold" in top else 0.5
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise _fail(source, top["threshold"], f"threshold must be in (0, 1], got {threshold!r}")
    if not isinstance(top.get("topics"), yaml.SequenceNode) or not top["topics"].value:
        raise _fail(source, top.get("topics", root), "'topics' must be a non-empty list")
    topics, seen = [], {}
    for node in top["topics"].value:
        topic = _topic(source, node, threshold)
        if topic.id in seen:
            raise _fail(source, node, f"duplicate topic id {topic.id!r} (first on line {seen[topic.id]})")
        seen[topic.id] = node.start_mark.line + 1
        topics.append(topic)
    if sum(t.fallback for t in topics) > 1:
        raise TaxonomyError(f"{source}: more than one fallback topic")
    return topics


def load_taxonomy(path: Path | None = None) -> list[Topic]:
    """The given file, or the taxonomy shipped with canyu."""
    if path is None:
        shipped = resources.files("models") / "taxonomy.yaml"
        return parse_taxonomy(shipped.read_text(encoding="utf-8"), "taxonomy.yaml")
    return parse_taxonomy(Path(path).read_text(encoding="utf-8"), str(path))


class TopicMatcher:
    """Matches texts (and their sentence vectors) against a taxonomy."""

    def __init__(self, topics: list[Topic], description_vectors: np.ndarray) -> None:
        self.topics = [t for t in topics if not t.fallback]
        self.fallback = next((t.id for t in topics if t.fallback), None)
        self._vectors = description_vectors  # one row per non-fallback topic, L2-normalised
        self._thresholds = np.array([t.threshold for t in self.topics], dtype=np.float32)

    @staticmethod
    def describe(topics: list[Topic]) -> list[str]:
        """What the encoder embeds for each non-fallback topic: its description and its names."""
        return [f"{t.description}. {' / '.join(t.names.values())}" for t in topics if not t.fallback]

    def match(self, texts: list[str], vectors: np.ndarray) -> list[list[tuple[str, float]]]:
        similarity = vectors @ self._vectors.T if len(texts) else np.zeros((0, len(self.topics)))
        out = []
        for text, sims in zip(texts, similarity, strict=True):
            if is_blank(text):
                out.append([])
                continue
            found = []
            for topic, sim, threshold in zip(self.topics, sims, self._thresholds, strict=True):
                if topic.rule_matches(text):
                    found.append((topic.id, 1.0, float(sim)))
                elif sim >= threshold:
                    found.append((topic.id, round(float(sim), 6), float(sim)))
            found.sort(key=lambda f: (-f[1], -f[2], f[0]))
            topics = [(topic_id, score) for topic_id, score, _ in found]
            out.append(topics or ([(self.fallback, 1.0)] if self.fallback else []))
        return out
