"""The one outbound guard (canyu_runtime.outbound), through every caller that reaches a URL on someone
else's say-so: delivery (webhooks and Slack) and the producers' HTTP client (feeds).

Each test runs against each caller: what holds for webhooks must hold for feeds.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from canyu.schema import Channel
from canyu_runtime.outbound import Refused, is_public
from producers.http import FetchError, Http
from tests.local_servers import webhook_receiver
from tests.unit.sinks.test_delivery import notice, sink


@dataclass
class Caller:
    name: str
    reach: Callable[[str, list[str]], None]  # (url, allowed hosts)
    refused: type[Exception]  # what it raises for a URL the guard refuses


def deliver(url: str, allowed_hosts: list[str]) -> None:
    delivery = sink(deliver_allowed_hosts=allowed_hosts, deliver_timeout_s=2, webhook_secret="k")
    channel = Channel.model_construct(type="webhook", target=url, secret_env=None)  # past the subscription's check
    delivery.deliver(notice(Channel(type="webhook", target="https://hooks.example.com/")).model_copy(
        update={"channel": channel}))  # fmt: skip


def fetch(url: str, allowed_hosts: list[str]) -> None:
    Http(user_agent="canyu-test/1", retries=0, timeout_s=2, allowed_hosts=allowed_hosts).get(url)


CALLERS = {"deliver": Caller("deliver", deliver, Refused), "fetch": Caller("fetch", fetch, FetchError)}


@pytest.fixture(params=list(CALLERS))
def caller(request) -> Caller:
    return CALLERS[request.param]


@pytest.fixture
def receiver():
    with webhook_receiver() as hook:
        yield hook


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/x", "http://10.0.0.8/x", "http://[::1]/x", "http://169.254.169.254/", "http://0.0.0.0/x"],
)
def test_private_and_loopback_addresses_are_refused_unless_allowed(caller, url):
    with pytest.raises(caller.refused, match="non-public"):
        caller.reach(url, [])


def test_non_http_urls_are_refused(caller):
    with pytest.raises(caller.refused, match="not an http"):
        caller.reach("file:///etc/passwd", [])


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::a9fe:a9fe]/x",  # NAT64 of 169.254.169.254
        "http://[64:ff9b::7f00:1]/x",  # NAT64 of 127.0.0.1
        "http://[2002:a00:8::]/x",  # 6to4 of 10.0.0.8
        "http://[2002:7f00:1::]/x",  # 6to4 of 127.0.0.1
        "http://[::ffff:127.0.0.1]/x",  # IPv4-mapped
        "http://[::ffff:a9fe:a9fe]/x",  # IPv4-mapped, written in hex
        "http://[::127.0.0.1]/x",  # IPv4-compatible
        "http://[::ffff:0:7f00:1]/x",  # IPv4-translated (SIIT) of 127.0.0.1
        "http://[::ffff:0:a00:8]/x",  # IPv4-translated of 10.0.0.8
        "http://[64:ff9b:1::7f00:1]/x",  # local-use NAT64 (RFC 8215), /96 style
        "http://[64:ff9b:1:7f00:0:100::]/x",  # local-use NAT64, the /48 embedding of 127.0.0.1
    ],
)
def test_ipv6_forms_of_private_addresses_are_refused(caller, url):
    with pytest.raises(caller.refused, match="non-public"):
        caller.reach(url, [])


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "::ffff:0:808:808", "::ffff:8.8.8.8", "2002:808:808::"])
def test_ipv6_forms_of_public_addresses_are_public(address):
    assert is_public(ipaddress.ip_address(address))


def rebinding_dns(monkeypatch, port: int) -> tuple[list, list]:
    """hook.test answers a public address first, then 127.0.0.1; connections to that public address reach
    the local receiver. The names asked for, and the addresses connected to."""
    real_resolve, real_connect = socket.getaddrinfo, socket.create_connection
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])
    asked, connected = [], []

    def rebinding(host, *args, **kwargs):
        if host != "hook.test":
            return real_resolve(host, *args, **kwargs)
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    def connect(address, *args, **kwargs):  # the public address is, here, the receiver
        connected.append(address[0])
        return real_connect(("127.0.0.1" if address[0] == "93.184.216.34" else address[0], address[1]), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(socket, "create_connection", connect)
    return asked, connected


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def test_the_connection_goes_to_the_address_that_was_checked(caller, receiver, monkeypatch):
    """DNS rebinding: the host answers a public address, then 127.0.0.1; the second answer is never asked for."""
    port = port_of(receiver.url)
    asked, connected = rebinding_dns(monkeypatch, port)
    caller.reach(f"http://hook.test:{port}/hook", [])
    assert asked == ["hook.test"] and connected == ["93.184.216.34"]
    ((headers, _),) = receiver.requests
    assert headers["Host"] == f"hook.test:{port}"


def test_a_redirect_to_a_private_address_is_refused(caller, receiver, monkeypatch):
    port = port_of(receiver.url)
    rebinding_dns(monkeypatch, port)
    receiver.statuses, receiver.headers = [302], {"Location": f"http://127.0.0.1:{port}/internal"}
    with pytest.raises(caller.refused):
        caller.reach(f"http://hook.test:{port}/hook", [])
    assert [headers["Host"] for headers, _ in receiver.requests] == [f"hook.test:{port}"]  # never the private one


def test_an_allowed_host_is_reached_though_it_is_private(caller, receiver):
    caller.reach(receiver.url, ["127.0.0.1"])
    assert len(receiver.requests) == 1


def test_the_environments_proxy_is_never_used(caller, receiver, monkeypatch):
    """A proxy would connect for us, to whatever address it resolves: past the guard."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://10.255.255.1:9")  # nothing answers there
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    caller.reach(receiver.url, ["127.0.0.1"])
    assert len(receiver.requests) == 1
