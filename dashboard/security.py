"""What keeps the page safe to open: a Content-Security-Policy, tokens out of the access log, bounded bodies.

Posts come from the outside world, so the page treats their text and links as
hostile: it renders text as text, links only with http(s) (``dashboard.js``), and
the policy below lets the page run only its own scripts and talk only to its own
origin, so even a link or text that slipped through could not run a script that
reads the admin's cookie. The read token may arrive once in the address
(``/?token=``); the access log writes that address, so the token is masked there.

A request's body (a subscription, the only thing the API takes) is read whole before the app
sees it, up to ``MAX_BODY_BYTES``: a larger one is a 413, and a compressed one a 415, since the
API never asks for one and decoding it would be a way around the limit.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import unquote_plus

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_PARAMETER = re.compile(r"(?<=[?&])([^=&\s#]*)=([^&\s#]*)")  # name=value in a query string, as written
MAX_BODY_BYTES = 64 << 10  # a subscription is well under 8 KB (its target at most 2 KB)


class SecurityHeaders:
    """ASGI middleware that adds the policy to every response, the live feed's stream included."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        return await self.app(scope, receive, with_headers)


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BoundedBodies:
    """ASGI middleware: a request body is read whole first, up to ``limit`` bytes, and never in a content coding."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if headers.get(b"content-encoding", b"identity").strip().lower() not in (b"", b"identity"):
            return await _refuse(send, 415, "a request body must not be compressed (no Content-Encoding)")
        length = headers.get(b"content-length", b"0").strip()
        if not length.isdigit() or int(length) > self.limit:
            return await _refuse(send, 413, f"a request body is at most {self.limit} bytes")
        body, more = bytearray(), True
        while more:  # counted as it comes: a body without Content-Length (chunked) is bounded too
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await _refuse(send, 413, f"a request body is at most {self.limit} bytes")
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()  # then on, whatever the client does (the live feed waits for a disconnect)
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        return await self.app(scope, replay, send)


def _masked(address: str) -> str:
    """``address`` with the value of every parameter whose name decodes to ``token`` (``%74oken`` too) as ``***``."""

    def mask(found: re.Match) -> str:
        return f"{found[1]}=***" if unquote_plus(found[1]).strip().lower() == "token" else found[0]

    return _PARAMETER.sub(mask, address)


class MaskTokens(logging.Filter):
    """Rewrites a log record's arguments so that ``token=...`` in an address reads ``token=***``, however the
    name is spelled: the app reads ``%74oken`` as ``token``, so the mask must too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) if isinstance(a, str) else a for a in record.args)
        return True
