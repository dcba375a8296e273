"""Reading a body that someone else sent, in bounded memory: decoded bytes are counted, not wire bytes.

A compressed body can be a bomb: a few kilobytes that inflate to gigabytes. httpx undoes
each content coding of a chunk whole, so one chunk of ``Content-Encoding: gzip, gzip``
(1,827 bytes) became two gigabytes before any size check could see it. Here a body is
inflated piece by piece, never more at once than what is still allowed, and at most one
content coding is undone: a body that names two is refused, as no honest server sends one.
Callers ask for ``ACCEPT_ENCODING`` only, and a coding outside it is refused too.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from canyu_runtime.errors import Permanent

ACCEPT_ENCODING = "gzip, deflate"  # what canyu tells servers it takes (Accept-Encoding)
IDENTITY = {"", "identity"}


class BodyRefused(Permanent):
    """A body that canyu will not read: two content codings or more, one it does not know, or broken bytes."""


class TooLarge(BodyRefused):
    """A body that is over the limit once decoded."""

    def __init__(self, limit: int):
        super().__init__(f"the body is over {limit} bytes decoded")
        self.limit = limit


class _Inflater:
    """One gzip or deflate layer, giving out at most ``room`` bytes a call. Deflate is zlib-wrapped by the
    standard, raw from some servers: the first bytes tell which (as httpx does)."""

    def __init__(self, coding: str):
        self.coding = coding
        self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS)
        self.started = False

    def inflate(self, data: bytes, room: int) -> bytes:
        try:
            out = self.decoder.decompress(data, room)
        except zlib.error as e:
            if self.coding != "deflate" or self.started:
                raise BodyRefused(f"the body is not valid {self.coding}: {e}") from None
            self.decoder = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.inflate(data, room)
        self.started = True
        return out

    @property
    def pending(self) -> bytes:
        """Input not inflated yet, because the last call filled its room."""
        return self.decoder.unconsumed_tail


def content_codings(content_encoding: str | None) -> list[str]:
    """The codings a Content-Encoding header names, identity left out: ``"gzip, gzip"`` → ``["gzip", "gzip"]``."""
    named = [coding.strip().lower() for coding in (content_encoding or "").split(",")]
    return [coding for coding in named if coding not in IDENTITY]


def read_decoded(chunks: Iterable[bytes], content_encoding: str | None, limit: int) -> bytes:
    """The body that ``chunks`` (wire bytes) carry, decoded; :class:`TooLarge` as soon as it passes ``limit``."""
    codings = content_codings(content_encoding)
    if len(codings) > 1:
        raise BodyRefused(f"the body has {len(codings)} content codings ({content_encoding}); canyu undoes one at most")
    if codings and codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise BodyRefused(f"content coding {codings[0]!r} is not one that canyu asked for ({ACCEPT_ENCODING})")
    inflater = _Inflater(codings[0]) if codings else None
    body = bytearray()

    def add(piece: bytes) -> None:
        body.extend(piece)
        if len(body) > limit:
            raise TooLarge(limit)

    for chunk in chunks:
        if inflater is None:
            add(chunk)
            continue
        data = chunk
        while True:
            add(inflater.inflate(data, limit - len(body) + 1))  # one byte past the limit is enough to know
            data = inflater.pending
            if not data:
                break
    if inflater is not None:
        while piece := inflater.inflate(b"", limit - len(body) + 1):  # what the last piece's room held back
            add(piece)
    return bytes(body)
