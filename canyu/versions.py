"""Software versions as canyu compares them: normalised strings of dot-separated numbers.

Pure: what people type (``v1.0.7``, ``1.0.7.0``) and what the version extractor finds in
posts become the same normalised string, and two versions compare as tuples of numbers
("1.0.10" is after "1.0.9"). Finding versions in post text is the models room's job
(``models/versions.yaml``); this is only the shape every room agrees on.
"""

from __future__ import annotations

import re

VERSION_PATTERN = r"^[0-9]{1,4}(?:\.[0-9]{1,6}){1,4}$"
_TYPED = re.compile(r"^[vV]?\s*([0-9]{1,4}(?:\.[0-9]{1,6}){1,4})$")
_MAJOR = re.compile(r"^[vV]?\s*([0-9]{1,4})$")


def parse_version(text: str, major_alone: bool = False) -> str:
    """``text`` as a normalised version ("v1.0.7" → "1.0.7"); ValueError naming it when it is none.

    A number alone ("14") is no version: it could be a price, a count or a model. Where the line is
    named with it ("Android 14", "MIUI 14"), it is one, and ``major_alone`` makes it "14.0", which
    compares as the same release point (``version_key``).
    """
    found = _TYPED.match(text.strip())
    if not found and major_alone and (major := _MAJOR.match(text.strip())):
        return f"{int(major.group(1))}.0"
    if not found:
        raise ValueError(f"{text!r} is not a version: use numbers separated by dots, like 1.0.7.0 or v3.2.1")
    return ".".join(str(int(part)) for part in found.group(1).split("."))


def version_key(version: str) -> tuple[int, ...]:
    """A version as numbers, trailing zeros dropped, so "1.0.7" and "1.0.7.0" are the same release point."""
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def at_least(version: str, floor: str) -> bool:
    """Whether ``version`` is ``floor`` or later."""
    return version_key(version) >= version_key(floor)


# The software lines a version can belong to, as ``versions.line`` names them (docs/fields.md); "app" is
# an app's own version. A release's product is a catalogue product or one of these.
SOFTWARE_LINES = ("hyperos", "miui", "oneui", "ios", "android", "coloros", "originos", "harmonyos", "app")
