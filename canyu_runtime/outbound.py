"""The one guard for every URL that canyu reaches on someone else's say-so: feeds, webhooks, Slack.

A source's URL comes from a sources file or an OPML import, a webhook's or a Slack channel's
from a subscriber. Neither may be a way into the operator's own network. So every connection
that such a URL leads to goes through :class:`GuardedBackend`:

- the host is resolved once per connection, and every address it resolves to must be public;
- the connection goes to the address that was checked (the Host header and the TLS server
  name stay the host's), so a second DNS answer cannot differ from the first (DNS rebinding);
- a redirect is a new connection, checked the same way (a caller that follows redirects
  checks each hop's URL with :func:`check_url` too).

Loopback, private, link-local and other non-global addresses are refused, and so are the
IPv6 forms that carry one: IPv4-mapped (``::ffff:a.b.c.d``), IPv4-translated
(``::ffff:0:a.b.c.d``), IPv4-compatible, 6to4, Teredo and NAT64 (``64:ff9b::/96``). The
local-use NAT64 prefix ``64:ff9b:1::/48`` is never public: it translates to whatever IPv4
network the operator routes it to. A host on the caller's allow-list (``deliver_allowed_hosts``
for notifications, ``fetch_allowed_hosts`` for sources) may still be private: an on-premises
forum, a receiver on the same machine.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import urllib.parse
from collections.abc import Collection

import httpcore
import httpx

from canyu_runtime.errors import Permanent

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052's well-known prefix: the IPv4 address is the last 32 bits
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: local use, not globally reachable
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 (SIIT): ::ffff:0:a.b.c.d


class Refused(Permanent):
    """A URL that must not be reached: no retry can change that."""


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 address carries (IPv4-mapped, -translated or -compatible, 6to4, NAT64, Teredo)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64 or address in IPV4_TRANSLATED or int(address) >> 32 == 0:  # the last: ::a.b.c.d
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    if address in LOCAL_NAT64:
        return False
    inner = embedded_ipv4(address)
    return address.is_global and (inner is None or inner.is_global)


def check_url(url: str) -> None:
    """Refuse what is not an http(s) URL with a host and a valid port (``file:``, ``gopher:``, port 0 ...)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise Refused(f"{parsed.scheme or 'a URL without a scheme'}://… is not an http(s) URL with a host")
    try:
        port = parsed.port
    except ValueError:
        port = 0
    if port == 0:
        raise Refused("the URL's port is not in 1-65535")


def resolve_public(host: str, port: int, allowed_hosts: Collection[str], setting: str) -> str:
    """The address to connect to for ``host``: resolved once, every answer checked, the first one.

    Raises :class:`Refused` for a non-public address (``setting`` names the allow-list that would
    let it through), and ``httpcore.ConnectError`` when the host cannot be resolved (a retry may help).
    """
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from e
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve {host}: no address")
    if host.lower() not in {allowed.lower() for allowed in allowed_hosts}:
        for address in addresses:
            if not is_public(address):
                raise Refused(
                    f"{host} resolves to {address}, a non-public address; add the host to {setting} to allow it"
                )
    return str(addresses[0])


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline, however slowly the other side drips."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float):
        self.stream, self.deadline = stream, deadline

    def _timeout(self, timeout: float | None, error: type[Exception]) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self._timeout(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self._timeout(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        tls = self.stream.start_tls(ssl_context, server_hostname, self._timeout(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls, self.deadline)

    def get_extra_info(self, info: str):
        return self.stream.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Connects to the checked address of the host a request names; TLS still verifies that host.

    With a ``deadline`` (``time.monotonic()``), connecting and every read and write end by then.
    """

    def __init__(self, allowed_hosts: Collection[str], setting: str, deadline: float | None = None):
        self.allowed_hosts, self.setting, self.deadline = list(allowed_hosts), setting, deadline
        self.backend = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = resolve_public(host, port, self.allowed_hosts, self.setting)
        if self.deadline is None:
            return self.backend.connect_tcp(address, port, timeout, local_address, socket_options)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ConnectTimeout("the deadline passed")
        timeout = left if timeout is None else min(timeout, left)
        stream = self.backend.connect_tcp(address, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream, self.deadline)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("an outbound URL is never a unix socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport, its connections made by :class:`GuardedBackend`.

    A client built on it ignores the environment's proxies (httpx reads them only for its own
    transport), which could otherwise reach what the guard refuses.
    """

    def __init__(self, allowed_hosts: Collection[str], setting: str, deadline: float | None = None):
        super().__init__(retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=GuardedBackend(allowed_hosts, setting, deadline)
        )
