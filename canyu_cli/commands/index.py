"""``canyu index``: migrations, retention and privacy for the Elasticsearch indices."""

from __future__ import annotations

from typing import Annotated

import typer

from canyu.settings import get_settings
from canyu_cli.commands import fail

app = typer.Typer(help="Manage canyu's Elasticsearch indices: migrate, retention, forget-author.", no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Apply the index templates, aliases and new mapping fields (idempotent; `canyu init` runs it too)."""
    from canyu_runtime.elastic import client
    from canyu_runtime.migrations import migrate as run_migrate

    settings = get_settings()
    with client(settings) as es:
        try:
            typer.echo("\n".join(run_migrate(es, settings)))
        except ValueError as e:
            fail(str(e))


@app.command()
def retention(
    older_than: Annotated[str, typer.Option(help="drop months that ended before this: 400d, 52w or an ISO date")],
    dry_run: Annotated[bool, typer.Option(help="only list what would be dropped")] = False,
) -> None:
    """Drop the monthly posts indices whose whole month is older than --older-than."""
    from canyu.filters import parse_time
    from canyu_runtime.elastic import client
    from sinks.retention import apply_retention

    try:
        cutoff = parse_time(older_than)
    except ValueError as e:
        fail(f"--older-than {e}")
    settings = get_settings()
    with client(settings) as es:
        plan = apply_retention(es, settings, cutoff, dry_run=dry_run)
    verb = "would drop" if dry_run else "dropped"
    typer.echo(f"cut-off {cutoff:%Y-%m-%d %H:%M} UTC: {verb} {len(plan.drop)} index(es), kept {len(plan.keep)}")
    for index in plan.drop:
        typer.echo(f"  {verb} {index}")
    for index in plan.unknown:
        typer.secho(f"  left alone {index}: not named by month", fg=typer.colors.YELLOW)


@app.command("forget-author")
def forget_author(
    source: Annotated[str, typer.Argument(help="the source the author writes on, e.g. weibo")],
    author_id: Annotated[str, typer.Argument(help="the author's id on that source")],
) -> None:
    """Delete every indexed post of one author, in every month, and scrub their copies elsewhere.

    Alerts lose the person's sample posts (ids and texts), feedback items their sample
    post ids (and a title taken from one of their posts), cascades their amplifier
    entries and, where they wrote the root, the root's author. Reports how many
    documents of each kind changed.

    Records still on the Kafka topics are untouched: a replay of posts.enriched
    would index them again. So is the worker's state: its next update of a feedback
    item or cascade that sampled them may carry them again.
    """
    from canyu_runtime.elastic import client
    from sinks.retention import forget_author as run_forget

    settings = get_settings()
    with client(settings) as es:
        done = run_forget(es, settings, source, author_id)
    typer.echo(
        f"deleted {done.posts} post(s) of {source} author {author_id} from {settings.posts_alias}; scrubbed "
        f"{done.alerts} alert(s), {done.feedback_items} feedback item(s), {done.cascades} cascade(s)"
    )
