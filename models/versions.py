"""Software versions named in posts, by the rules of ``models/versions.yaml``.

``VersionFinder.load().find(text, products)`` gives the versions a post names, normalised
(``canyu.versions``), in order and once each: "小米14 升级 HyperOS 1.0.6.0" is HyperOS 1.0.6.0
on the xiaomi-14. The YAML file explains when a number is a version; this module compiles
its names, shapes and cues once, so it runs on every post in the worker's classifier
process: a few anchored matches per number in a post, one search for a post without a
digit. A bad file fails at load with its line and the reason, like the taxonomy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from canyu.schema import SLUG, VersionMention
from canyu.versions import parse_version, version_key

APP = "app"
TOP_KEYS = {"lines", "app", "not_versions"}
LINE_KEYS = {"id", "names", "joined", "shape"}
APP_KEYS = {"before", "after"}
NOT_KEYS = {"before", "after", "shapes"}

# A number: up to five parts, as canyu.versions.VERSION_PATTERN allows. Not a piece of a longer
# one: no digit or "digit." right before it, no digit or ".digit" right after it, and no
# thousands separator on either side ("1,099.99": a comma and a group of three digits). The
# lookahead for a digit comes first: it spares the lookbehinds at every other character.
NUMBER = re.compile(
    r"(?=[0-9])(?<![0-9])(?<![0-9]\.)(?:(?<![0-9],)|(?![0-9]{3}(?![0-9])))"
    r"[0-9]{1,4}(?:\.[0-9]{1,6}){0,4}(?![0-9]|\.[0-9]|,[0-9]{3}(?![0-9]))"
)
DIGIT = re.compile(r"\d")  # any script's digits, before NFKC makes the full-width ones ASCII
# Between a name or a cue and its number: spaces and a colon, "版本：3.2.1" (NFKC makes "：" ":"),
# on one line: "in HyperOS:\n\n1. Per-app refresh rate" names no version.
SEPARATOR = r"[^\S\n]*:?[^\S\n]*"
LATIN = re.compile(r"[A-Za-z]")


class VersionRulesError(ValueError):
    """A versions file that cannot be used, with where and why."""


@dataclass(frozen=True)
class Line:
    id: str
    names: tuple[str, ...]
    joined: tuple[str, ...] = ()
    shape: re.Pattern[str] | None = None


def _fold(text: str) -> str:
    # Full-width digits and colons are the ASCII ones: "ＯＳ１.０" is "OS1.0".
    return unicodedata.normalize("NFKC", text)


# What stands before a number is read backwards: from the number, in a reversed copy of the
# text, with one anchored match, rather than by a search for a pattern that ends at the number
# (which tries every position before it; 10 times slower).


def _term(term: str, backwards: bool) -> str:
    """A name, cue or unit: a space in it matches any or none; a Latin one is not the end of a longer word."""
    parts = _fold(term).split()
    if backwards:
        parts = [part[::-1] for part in reversed(parts)]
    body = r"\s*".join(re.escape(part) for part in parts)
    far_end = term[0] if backwards else term[-1]  # the side away from the number
    return body + (r"(?![A-Za-z0-9])" if LATIN.match(far_end) else "")


def _any(terms: Iterable[str], backwards: bool) -> str:
    # Longest first, so that "版本号" is tried before "版本".
    return "|".join(_term(t, backwards) for t in sorted(set(terms), key=len, reverse=True)) or "(?!)"


def _before(terms: Iterable[str]) -> re.Pattern[str]:
    """For ``match(reversed_text, pos)``: one of ``terms``, and a separator, stand right before the number."""
    return re.compile(f"{SEPARATOR}(?:{_any(terms, backwards=True)})", re.IGNORECASE)


def _after(terms: Iterable[str]) -> re.Pattern[str]:
    """For ``match(text, end)``: one of ``terms`` stands right after the number."""
    return re.compile(rf"\s*(?:{_any(terms, backwards=False)})", re.IGNORECASE)


def _named(lines: Sequence[Line], names: str, separator: str) -> re.Pattern[str]:
    """Like ``_before``, with one group per line (``line0``, ``line1``, …): whose name it is."""
    groups = [
        f"(?P<line{i}>{_any(terms, backwards=True)})" for i, line in enumerate(lines) if (terms := getattr(line, names))
    ]
    return re.compile(f"{separator}(?:{'|'.join(groups) or '(?!)'})", re.IGNORECASE)


class VersionFinder:
    """The rules of a versions file, compiled; ``find`` is safe to call from any thread."""

    def __init__(
        self,
        lines: Sequence[Line],
        app_before: Sequence[str] = (),
        app_after: Sequence[str] = (),
        not_before: Sequence[str] = (),
        not_after: Sequence[str] = (),
        not_shapes: Sequence[re.Pattern[str]] = (),
    ) -> None:
        self.lines = tuple(lines)
        self._ids = {line.id for line in self.lines}
        self._named = _named(self.lines, "names", rf"(?:\s?v)?(?P<colon>{SEPARATOR})")  # "MIUI V14.0.8.0"
        self._joined = _named(self.lines, "joined", "")
        self._shapes = [(line.id, line.shape) for line in self.lines if line.shape]
        self._cue_before = _before(app_before)
        self._cue_after = _after(app_after)
        self._money_before = _before(not_before)
        self._unit_after = _after(not_after)
        self._not_shapes = tuple(not_shapes)

    @classmethod
    def load(cls, path: Path | None = None) -> VersionFinder:
        """The given file, or the rules shipped with canyu."""
        if path is None:
            shipped = resources.files("models") / "versions.yaml"
            return parse_rules(shipped.read_text(encoding="utf-8"), "versions.yaml")
        return parse_rules(Path(path).read_text(encoding="utf-8"), str(path))

    def find(self, text: str, products: Sequence[str] = ()) -> list[VersionMention]:
        """The versions ``text`` names, in order, once each (1.0.7 and 1.0.7.0 are one).

        ``products``: the catalogue product ids the post mentions. A mention's product is the one
        of them that is not software itself (hyperos, miui-15); none when the post names several.
        """
        if not DIGIT.search(text):
            return []
        text = _fold(text)
        devices = [p for p in products if not self._is_software(p)]
        product = devices[0] if len(devices) == 1 else None
        backwards = text[::-1]
        found: list[VersionMention] = []
        seen: set[tuple[str, tuple[int, ...]]] = set()
        for number in NUMBER.finditer(text):
            line, version = self._version_at(text, backwards, number)
            if line is None or (line, version_key(version)) in seen:
                continue
            seen.add((line, version_key(version)))
            found.append(VersionMention(line=line, version=version, product=product))
        return found

    def _version_at(self, text: str, backwards: str, number: re.Match[str]) -> tuple[str | None, str]:
        """The line and normalised version of the number at ``number``; no line when it is not a version."""
        token, end, parts = number.group(), number.end(), number.group().count(".") + 1
        before = len(text) - number.start()  # where the text before the number starts, read backwards
        if self._money_before.match(backwards, before) or any(shape.fullmatch(token) for shape in self._not_shapes):
            return None, token
        if parts <= 2 and self._unit_after.match(text, end):  # "9.5分", "1.5%": amounts have one or two parts
            return None, token
        if named := self._named.match(backwards, before):
            # A major alone follows the name at once: not "HyperOS 2nd", nor "in HyperOS: 2 things".
            if parts > 1 or not (LATIN.match(text, end) or ":" in named.group("colon")):
                return self._line_of(named), parse_version(token, major_alone=True)
            return None, token
        if parts == 1:  # a number alone is a version only after a line's name
            return None, token
        if joined := self._joined.match(backwards, before):
            return self._line_of(joined), parse_version(token)
        for line, shape in self._shapes:
            if shape.fullmatch(token):
                return line, parse_version(token)
        if self._cue_before.match(backwards, before) or self._cue_after.match(text, end):
            return APP, parse_version(token)
        return None, token

    def _line_of(self, named: re.Match[str]) -> str:
        (group,) = (g for g, value in named.groupdict().items() if value is not None and g.startswith("line"))
        return self.lines[int(group.removeprefix("line"))].id

    def _is_software(self, product: str) -> bool:
        return any(product == line or product.startswith(f"{line}-") for line in self._ids)


# Reading the file: every mistake names its line.


def _fail(source: str, node: yaml.Node, reason: str) -> VersionRulesError:
    return VersionRulesError(f"{source}:{node.start_mark.line + 1}: {reason}")


def _mapping(source: str, node: yaml.Node, keys: set[str], what: str) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(source, node, f"{what} must be a mapping with {', '.join(sorted(keys))}")
    raw = {key.value: value for key, value in node.value}
    if unknown := set(raw) - keys:
        raise _fail(source, node, f"unknown key(s) {sorted(unknown)} in {what}; allowed: {sorted(keys)}")
    return raw


def _strings(source: str, node: yaml.Node, what: str) -> list[str]:
    value = yaml.safe_load(yaml.serialize(node))
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(source, node, f"{what} must be a list of non-empty strings")
    return value


def _pattern(source: str, node: yaml.Node, what: str) -> re.Pattern[str]:
    value = yaml.safe_load(yaml.serialize(node))
    if not isinstance(value, str) or not value:
        raise _fail(source, node, f"{what} must be a regular expression in a string")
    try:
        pattern = re.compile(value)
    except re.error as e:
        raise _fail(source, node, f"{what} {value!r} is not a regular expression: {e}") from e
    if pattern.fullmatch(""):
        raise _fail(source, node, f"{what} {value!r} matches the empty string: it must describe a number")
    return pattern


def _patterns(source: str, node: yaml.Node, what: str) -> list[re.Pattern[str]]:
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(source, node, f"{what} must be a list of regular expressions")
    return [_pattern(source, item, what) for item in node.value]


def _line(source: str, node: yaml.Node) -> Line:
    raw = _mapping(source, node, LINE_KEYS, "a line")
    if "id" not in raw or "names" not in raw:
        raise _fail(source, node, "a line needs an 'id' and its 'names'")
    line_id = yaml.safe_load(yaml.serialize(raw["id"]))
    if not isinstance(line_id, str) or not re.match(SLUG, line_id) or line_id == APP:
        raise _fail(source, raw["id"], f"line id {line_id!r} must be lower-case (a-z, 0-9, . _ -), and not {APP!r}")
    by_language = raw["names"].value if isinstance(raw["names"], yaml.MappingNode) else []
    names = [name for lang, names in by_language for name in _strings(source, names, f"names.{lang.value}")]
    if not names:
        raise _fail(source, raw["names"], "names must map language codes to lists of names")
    joined = _strings(source, raw["joined"], "joined") if "joined" in raw else []
    shape = _pattern(source, raw["shape"], "shape") if "shape" in raw else None
    return Line(line_id, tuple(dict.fromkeys(names)), tuple(joined), shape)


def _lines(source: str, node: yaml.Node) -> list[Line]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise _fail(source, node, "'lines' must be a non-empty list")
    lines: list[Line] = []
    ids: dict[str, int] = {}  # line id → where it was first
    names: dict[str, tuple[str, int]] = {}  # a name, case and spaces ignored → its line and where
    for item in node.value:
        line, where = _line(source, item), item.start_mark.line + 1
        if line.id in ids:
            raise _fail(source, item, f"duplicate line id {line.id!r} (first on line {ids[line.id]})")
        ids[line.id] = where
        for name in (*line.names, *line.joined):
            owner, at = names.setdefault("".join(_fold(name).lower().split()), (line.id, where))
            if owner != line.id:
                raise _fail(source, item, f"the name {name!r} is also {owner!r}'s (line {at})")
        lines.append(line)
    return lines


def parse_rules(text: str, source: str = "<versions>") -> VersionFinder:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        raise VersionRulesError(f"{source}: not valid YAML: {e}") from e
    if root is None:
        raise VersionRulesError(f"{source}:1: the file must be a mapping with a 'lines' list")
    top = _mapping(source, root, TOP_KEYS, "the file")
    app = _mapping(source, top["app"], APP_KEYS, "app") if "app" in top else {}
    refused = _mapping(source, top["not_versions"], NOT_KEYS, "not_versions") if "not_versions" in top else {}

    def strings(part: dict[str, yaml.Node], key: str, what: str) -> list[str]:
        return _strings(source, part[key], what) if key in part else []

    return VersionFinder(
        _lines(source, top.get("lines", root)),
        app_before=strings(app, "before", "app.before"),
        app_after=strings(app, "after", "app.after"),
        not_before=strings(refused, "before", "not_versions.before"),
        not_after=strings(refused, "after", "not_versions.after"),
        not_shapes=_patterns(source, refused["shapes"], "not_versions.shapes") if "shapes" in refused else [],
    )
