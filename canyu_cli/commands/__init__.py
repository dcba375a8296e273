"""The subcommands of ``canyu``, one module per room. Most import their room only when they run, so that
``canyu --help`` stays quick; ``produce`` reads its kinds from the producers room at start."""

from __future__ import annotations

import typer


def fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
