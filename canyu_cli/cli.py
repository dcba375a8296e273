"""The ``canyu`` command: one entry point, with the subcommands of each room."""

from __future__ import annotations

import sys

import typer

from canyu.settings import get_settings
from canyu_cli.commands import (
    dashboard,
    dlq,
    export,
    index,
    item,
    kibana,
    model_build,
    pipeline,
    produce,
    release,
    search,
    stack,
    subscribe,
)
from canyu_cli.commands import eval as eval_cmd
from canyu_runtime.private import without_credentials

app = typer.Typer(
    help="canyu (参与): social listening, from posts to dashboards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack.app, name="stack")
app.add_typer(pipeline.app)
app.add_typer(search.app)
app.add_typer(eval_cmd.app)
app.add_typer(produce.app, name="produce")
app.add_typer(export.app)
app.add_typer(index.app, name="index")
app.add_typer(dashboard.app)
app.add_typer(kibana.app, name="kibana")
app.add_typer(subscribe.app, name="subscribe")
app.add_typer(dlq.app, name="dlq")
app.add_typer(release.app, name="release")
app.add_typer(item.app, name="item")
app.add_typer(model_build.app, name="models")


def _unreachable_service(error: Exception) -> str | None:
    """A plain sentence for the errors that mean a server is down or not set up."""
    from elasticsearch import ConnectionError as EsConnectionError
    from elasticsearch import NotFoundError
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    settings = get_settings()
    if isinstance(error, EsConnectionError):
        where = without_credentials(settings.elasticsearch.url)
        return f"cannot reach Elasticsearch at {where}; start it with `canyu stack up`"
    if isinstance(error, NotFoundError):
        return f"the index alias {settings.posts_alias} does not exist yet; run `canyu init` (or `canyu up`)"
    if isinstance(error, (KafkaConnectionError, KafkaTimeoutError)):
        return f"cannot reach Kafka at {settings.kafka.bootstrap}; start it with `canyu stack up`"
    return None


def main() -> None:
    try:
        app()
    except Exception as e:
        message = _unreachable_service(e)
        if message is None:
            raise
        typer.secho(f"error: {message} ({type(e).__name__})", fg=typer.colors.RED, err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
