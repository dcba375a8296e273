"""``canyu kibana import``: Kibana saved objects equivalent to the live dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from canyu.settings import get_settings
from canyu_cli.commands import fail

app = typer.Typer(help="Kibana saved objects for users of the compose stack.", no_args_is_help=True)


@app.command("import")
def import_(
    url: Annotated[str, typer.Option(help="Kibana's address")] = "http://127.0.0.1:5601",
) -> None:
    """Import canyu's data views, visualizations and dashboard into Kibana (replacing earlier imports)."""
    import httpx

    from dashboard.kibana import import_objects, load, namespaced

    objects = namespaced(load(), get_settings().namespace)
    try:
        answer = import_objects(url, objects)
    except httpx.HTTPError as e:
        fail(f"Kibana at {url} did not take the import: {e}")
    for error in answer.get("errors", []):
        typer.secho(f"{error.get('type')} {error.get('id')}: {error.get('error')}", fg=typer.colors.RED, err=True)
    typer.echo(f"imported {answer.get('successCount', 0)} of {len(objects)} saved objects into {url}")
    if not answer.get("success"):
        raise typer.Exit(1)
    typer.echo(f"open {url.rstrip('/')}/app/dashboards#/view/canyu-dashboard")
