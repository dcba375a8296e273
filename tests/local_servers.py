"""Local receivers for what canyu sends out or fetches: a webhook endpoint (which serves GETs too), an SMTP
server and a static file server (a Maven repository), on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller


@dataclass
class Webhook:
    url: str
    requests: list[tuple[dict, bytes]] = field(default_factory=list)  # (headers, body)
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200
    headers: dict[str, str] = field(default_factory=dict)  # sent with every answer (Location, Retry-After ...)
    body: bytes = b""  # sent with every answer, as it is (a test that sets Content-Encoding encodes it)


@contextmanager
def webhook_receiver() -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.requests.append((dict(self.headers), body))
            self.send_response(hook.statuses.pop(0) if hook.statuses else 200)
            for name, value in {"Content-Length": str(len(hook.body)), **hook.headers}.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(hook.body)
            except OSError:  # the client did not read the answer: it had what it needed
                pass

        do_GET = do_POST  # a feed, for the producers' HTTP client

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield hook
    finally:
        server.shutdown()


@dataclass
class Mailbox:
    port: int
    messages: list = field(default_factory=list)  # aiosmtpd envelopes

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailbox = Mailbox(port)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@contextmanager
def file_server(folder: Path) -> Iterator[str]:
    """Serves ``folder``'s files over HTTP; yields its base URL."""

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
