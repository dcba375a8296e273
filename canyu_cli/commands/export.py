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
    from canyu_runtime.elastic import client
    from queries.export import FORMATS
    from queries.search import build_query

    fmt = output_format(fmt, output, FORMATS)
    settings = get_settings()
    with client(settings) as es:
        written = write_export(es, settings.posts_alias, build_query(query, filters), output, fmt, page_size)
    typer.echo(f"exported {written} posts as {fmt} to {output or 'standard output'}", err=True)


def output_format(fmt: str | None, output: Path | None, formats: tuple[str, ...]) -> str:
    """``--format``, or the output file's suffix when it is one of ``formats``, or the first of them; checked."""
    suffix = output.suffix.lstrip(".") if output else ""
    fmt = fmt or (suffix if suffix in formats else formats[0])
    if fmt not in formats:
        fail(f"--format {fmt!r}: choose from {', '.join(formats)}")
    if output and not output.parent.is_dir():
        fail(f"{output.parent} is not a folder")
    return fmt


def write_export(es, index: str, es_query: dict, output: Path | None, fmt: str, page_size: int = 1000, *,
                 columns: list[str] | None = None, row=None, unit: str = "post") -> int:  # fmt: skip
    """Stream the matches (or ``row`` of each) to ``output`` or standard output, with progress on
    standard error; how many were written. ``columns``: a CSV's, for rows that are not posts."""
    from tqdm import tqdm

    from queries.export import export, open_writer

    # Written beside the target and renamed when complete: a file named OUTPUT is never half an export.
    partial = output.with_name(f"{output.name}.partial") if output else None
    total = es.count(index=index, query=es_query)["count"]
    try:
        writer, opened = open_writer(fmt, partial, sys.stdout, columns)
    except ValueError as e:
        fail(str(e))
    try:
        with tqdm(total=total, unit=unit, desc="exported", file=sys.stderr) as bar:
            written = export(es, index, es_query, writer, page_size, progress=bar.update, row=row)
    except BaseException:
        if partial:
            partial.unlink(missing_ok=True)
        raise
    finally:
        if opened:
            opened.close()
    if partial:
        partial.replace(output)
    return written
