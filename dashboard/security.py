"""What keeps the page safe to open: a Content-Security-Policy, and tokens out of the access log.

Posts come from the outside world, so the page treats their text and links as
hostile: it renders text as text, links only with http(s) (``dashboard.js``), and
the policy below lets the page run only its own scripts and talk only to its own
origin, so even a link or text that slipped through could not run a script that
reads the admin's cookie. The read token may arrive once in the address
(``/?token=``); the access log writes that address, so the token is masked there.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_TOKEN = re.compile(r"(?<=[?&]token=)[^&\s]+")


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


class MaskTokens(logging.Filter):
    """Rewrites a log record's arguments so that ``token=...`` in an address reads ``token=***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN.sub("***", a) if isinstance(a, str) else a for a in record.args)
        return True


def without_credentials(url: str) -> str:
    """A URL fit to show: ``http://user:secret@es:9200`` becomes ``http://es:9200``."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host))
