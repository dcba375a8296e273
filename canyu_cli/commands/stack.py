"""``canyu stack``: the local Kafka broker and Elasticsearch node."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from canyu.settings import Settings, get_settings
from canyu_cli.commands import fail
from canyu_runtime.private import without_credentials

app = typer.Typer(help="Run a local Kafka broker and Elasticsearch node (no Docker).", no_args_is_help=True)


def _servers(settings: Settings):
    from canyu_cli.stack.servers import servers

    return servers(settings)


@app.command("up")
def stack_up() -> None:
    """Start Kafka 4 (KRaft) and Elasticsearch on 127.0.0.1 and wait until both are healthy.

    Downloads the pinned artifacts from Maven Central on first use and checks their sha256.
    Both servers need Java 17 or newer (CANYU_JAVA_HOME or JAVA_HOME picks one).
    """
    from canyu_cli.stack.java import JavaNotFound
    from canyu_cli.stack.servers import StackError

    for server in _servers(get_settings()):
        typer.echo(f"{server.name} {server.pin.version}: starting (or already running) ...")
        try:
            status = server.up()
        except (StackError, JavaNotFound) as e:
            fail(str(e))
        where = without_credentials(status.address)
        typer.echo(f"{server.name}: healthy at {where} (pid {status.pid}) - {status.detail}")


@app.command("down")
def stack_down() -> None:
    """Stop both servers by their recorded PIDs. Data stays under CANYU_HOME/stack."""
    for server in reversed(_servers(get_settings())):
        stopped = server.down()
        typer.echo(f"{server.name}: {'stopped' if stopped else 'was not running'}")


@app.command("status")
def stack_status() -> None:
    """Report each server's PID and health; exits 1 unless both are healthy."""
    all_healthy = True
    for server in _servers(get_settings()):
        s = server.status()
        all_healthy &= s.healthy
        state = "healthy" if s.healthy else ("running, not healthy" if s.pid else "stopped")
        typer.echo(f"{s.name:<14} {s.version:<9} {state:<22} pid={s.pid or '-':<8} {without_credentials(s.address)}  "
                   f"{s.detail}")  # fmt: skip
    raise typer.Exit(0 if all_healthy else 1)


@app.command("logs")
def stack_logs(
    server: Annotated[str, typer.Argument(help="kafka or elasticsearch")],
    lines: Annotated[int, typer.Option("--lines", "-n")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
) -> None:
    """Print the end of a server's log."""
    from canyu_cli.stack.servers import tail

    found = {s.name: s for s in _servers(get_settings())}
    if server not in found:
        fail(f"unknown server {server!r}; choose one of {', '.join(found)}")
    path = found[server].log_file
    typer.echo(tail(path, lines), nl=False)
    if follow and path.exists():
        with path.open(errors="replace") as f:
            f.seek(0, 2)
            while True:
                line = f.readline()
                if line:
                    typer.echo(line, nl=False)
                else:
                    time.sleep(0.5)
