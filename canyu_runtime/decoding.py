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


def _zlib_header(first: bytes) -> bool:
    """Whether two bytes open a zlib stream (RFC 1950): deflate method, and a header that checks."""
    return first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0


class _Inflater:
    """One gzip or deflate layer, giving out at most ``room`` bytes a call. Deflate is zlib-wrapped by the
    standard, raw from some servers: its first two bytes tell which, so they are waited for."""

    def __init__(self, coding: str):
        self.coding = coding
        self.head = b""  # deflate's first bytes, until there are two
        gzip = coding in ("gzip", "x-gzip")
        self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None

    def inflate(self, data: bytes, room: int) -> bytes:
        if self.decoder is None:
            self.head += data
            if len(self.head) < 2:
                return b""
            wbits = zlib.MAX_WBITS if _zlib_header(self.head) else -zlib.MAX_WBITS
            self.decoder, data, self.head = zlib.decompressobj(wbits), self.head, b""
        try:
            return self.decoder.decompress(data, room)
        except zlib.error as e:
            raise BodyRefused(f"the body is not valid {self.coding}: {e}") from None

    def finished(self, wire_bytes: int) -> bool:
        """Whether the compressed stream came to its end (an empty body is an empty body)."""
        return wire_bytes == 0 or (self.decoder is not None and self.decoder.eof)

    @property
    def pending(self) -> bytes:
        """Input not inflated yet, because the last call filled its room."""
        return self.decoder.unconsumed_tail if self.decoder is not None else b""


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
    wire_bytes = 0

    def add(piece: bytes) -> None:
        body.extend(piece)
        if len(body) > limit:
            raise TooLarge(limit)

    for chunk in chunks:
        wire_bytes += len(chunk)
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
        if not inflater.finished(wire_bytes):
            raise BodyRefused(f"the body ends before its {codings[0]} stream does: it was cut short")
    return bytes(body)
