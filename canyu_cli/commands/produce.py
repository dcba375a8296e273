"""``canyu produce``: run the source connectors that bring posts onto posts.raw.

``canyu produce --config sources.yaml`` runs every source of the file concurrently;
``canyu produce weibo --url …`` runs one; ``canyu produce weibo --file page.json --dry-run``
prints what a saved response maps to; ``canyu produce --status`` shows each source's counts.
"""

# No `from __future__ import annotations`: Typer must evaluate the annotations of the per-kind commands made below.
import logging
import signal
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from canyu.settings import get_settings
from canyu_cli.commands import MetricsPort, fail
from producers.sources import KINDS, ConfigError, build, load_sources_file, source_config  # KINDS: one command each

app = typer.Typer(
    help="Poll social sources and publish their posts to posts.raw (one source, or all in a sources file).",
    no_args_is_help=False,
)

Once = Annotated[bool, typer.Option("--once", help="stop once every source has caught up, instead of polling on")]


def _run(configs: list, once: bool, metrics_port: int | None) -> None:
    from producers.metrics import SourceStats, serve_metrics
    from producers.runner import run_sources

    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    sources = [build(c, settings) for c in configs]
    stats = [SourceStats(s.name, s.kind) for s in sources]
    if metrics_port is not None:
        serve_metrics(stats, metrics_port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"producing from {', '.join(s.name for s in sources)} → {settings.topic('posts.raw')}", err=True)
    report = lambda line: typer.echo(line, err=True)  # noqa: E731 - stdout stays free for --dry-run's posts
    if not run_sources(sources, settings, stop, once=once, report=report, stats=stats):
        fail("a source gave up after repeated errors; see the log above")


@app.callback(invoke_without_command=True)
def produce(
    ctx: typer.Context,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="a sources file, YAML or TOML")] = None,
    status: Annotated[bool, typer.Option("--status", help="print each source's latest counts and exit")] = False,
    once: Once = False,
    metrics_port: MetricsPort = None,
) -> None:
    """Run source connectors. With --config, all the sources of a file; or name one kind (see below)."""
    if ctx.invoked_subcommand is not None:
        if config or status:
            fail("--config and --status go before no source kind: `canyu produce --config FILE`")
        return
    if status:
        from producers.metrics import saved_stats

        found = saved_stats(get_settings())
        for stats in found:
            typer.echo(stats.line())
        if not found:
            typer.echo("no source has run yet")
        return
    if config is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)
    try:
        configs = load_sources_file(config)
    except ConfigError as e:
        fail(str(e))
    _run(configs, once, metrics_port)


def _options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--set takes KEY=VALUE, not {pair!r}")
        options[key.strip()] = value
    return options


def _from_file(source, path: Path, dry_run: bool) -> None:
    """Map a saved response; print the posts (--dry-run), exactly those a poll would publish, or publish them once."""
    from producers.base import BadPayload
    from producers.runner import first_of_each, mapped

    if not path.is_file():
        fail(f"{path} is not a file")
    try:
        records = source.records(path.read_bytes())
    except BadPayload as e:
        fail(f"{path}: {e}")
    if not dry_run:
        from canyu_runtime.kafka_clients import make_producer
        from producers.runner import Publisher
        from producers.state import Cursor

        producer = make_producer(get_settings())
        try:
            result = Publisher(producer, get_settings(), source).publish_page(records, Cursor())
        finally:
            producer.close()
        typer.echo(f"{path}: published {result.published}, duplicates {result.duplicates}, failed {result.failed}")
        return
    failed = 0
    unique, repeated = first_of_each((post, record.raw, reason) for record, post, reason in mapped(source, records))
    for _, (post, _, reason) in unique:
        if post is None:
            failed += 1
            typer.secho(f"{path}: skipped a record: {reason}", fg=typer.colors.YELLOW, err=True)
        else:
            typer.echo(post.model_dump_json())
    typer.echo(f"{path}: {len(unique) - failed} posts, {failed} records skipped, {repeated} repeated", err=True)


def _add_kind_command(kind: str) -> None:
    def one_source(
        url: Annotated[Optional[str], typer.Option(help="the source's URL (its API endpoint, forum or feed)")] = None,
        file: Annotated[Optional[Path], typer.Option(help="read a saved response instead of polling")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="with --file: print the posts as JSONL")] = False,
        name: Annotated[Optional[str], typer.Option(help=f"the source's name; default: {kind}")] = None,
        token_env: Annotated[Optional[str], typer.Option(help="environment variable holding the token")] = None,
        interval: Annotated[Optional[float], typer.Option(help="seconds between polls")] = None,
        set_: Annotated[list[str], typer.Option("--set", help="any other source setting, KEY=VALUE")] = [],  # noqa: B006
        once: Once = False,
        metrics_port: MetricsPort = None,
    ) -> None:
        given = {"name": name or kind, "url": url, "token_env": token_env, "interval_s": interval}
        options = {**{k: v for k, v in given.items() if v is not None}, **_options(set_)}
        if kind == "replay" and file is not None:
            options.setdefault("path", str(file))  # a replay source's saved response is its own file
        if dry_run and file is None:
            fail("--dry-run goes with --file")
        try:
            config = source_config(kind, options, polling=file is None)
        except ConfigError as e:
            fail(str(e))
        if file is not None:
            _from_file(build(config), file, dry_run)
        else:
            _run([config], once, metrics_port)

    one_source.__doc__ = f"Run one {kind} source, or read a saved {kind} response with --file."
    app.command(kind)(one_source)


for _kind in KINDS:
    _add_kind_command(_kind)
