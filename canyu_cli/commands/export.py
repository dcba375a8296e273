"""``canyu export``: stream any query's posts to JSONL, CSV or Parquet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from canyu.settings import get_settings
from canyu_cli.commands import fail
from canyu_cli.commands.search import QueryArg, with_filters

app = typer.Typer()


@app.command()
@with_filters
def export(
    query: QueryArg = "*",
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="file to write; default: standard output")
    ] = None,
    fmt: Annotated[
        Optional[str], typer.Option("--format", help="jsonl, csv or parquet; default: from the file's suffix, or jsonl")
    ] = None,
    page_size: Annotated[int, typer.Option(min=1, max=10_000, help="documents per request")] = 1000,
    *,
    filters,
) -> None:
    """Stream every post matching the query to a file, in constant memory (point in time + search_after)."""
    from tqdm import tqdm

    from canyu_runtime.elastic import client
    from queries.export import FORMATS, export, open_writer
    from queries.search import build_query

    fmt = fmt or (output.suffix.lstrip(".") if output and output.suffix.lstrip(".") in FORMATS else "jsonl")
    if fmt not in FORMATS:
        fail(f"--format {fmt!r}: choose from {', '.join(FORMATS)}")
    if output and not output.parent.is_dir():
        fail(f"{output.parent} is not a folder")
    settings = get_settings()
    es_query = build_query(query, filters)
    # Written beside the target and renamed when complete: a file named OUTPUT is never half an export.
    partial = output.with_name(f"{output.name}.partial") if output else None
    with client(settings) as es:
        total = es.count(index=settings.posts_alias, query=es_query)["count"]
        try:
            writer, opened = open_writer(fmt, partial, sys.stdout)
        except ValueError as e:
            fail(str(e))
        try:
            with tqdm(total=total, unit="post", desc="exported", file=sys.stderr) as bar:
                written = export(es, settings.posts_alias, es_query, writer, page_size, progress=bar.update)
        except BaseException:
            if partial:
                partial.unlink(missing_ok=True)
            raise
        finally:
            if opened:
                opened.close()
    if partial:
        partial.replace(output)
    typer.echo(f"exported {written} posts as {fmt} to {output or 'standard output'}", err=True)
