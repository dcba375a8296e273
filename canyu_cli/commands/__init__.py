"""The subcommands of ``canyu``, one module per room. Most import their room only when they run, so that
``canyu --help`` stays quick; ``produce`` reads its kinds from the producers room at start."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

# Every long-running service's option: `canyu produce|worker|sink|deliver --metrics-port PORT`.
MetricsPort = Annotated[
    Optional[int], typer.Option("--metrics-port", help="serve Prometheus metrics on 127.0.0.1:PORT/metrics")
]


def fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
