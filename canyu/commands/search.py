"""``canyu search``: query the index."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from canyu.commands import fail
from canyu.settings import get_settings

app = typer.Typer()


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='simple_query_string syntax: words, "phrases", -not, a|b, prefix*')],
    source: Annotated[Optional[str], typer.Option(help="only this source")] = None,
    lang: Annotated[Optional[str], typer.Option(help="only this language, e.g. zh, ko, en")] = None,
    since: Annotated[Optional[str], typer.Option(help="7d, 12h, 30m, 2w or an ISO date")] = None,
    sentiment: Annotated[Optional[str], typer.Option(help="negative, neutral or positive")] = None,
    limit: Annotated[int, typer.Option(help="posts to print")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Search indexed posts and summarise the matches by sentiment and source."""
    from queries.search import build_query, parse_since
    from queries.search import search as run_search
    from sinks.elasticsearch import client

    settings = get_settings()
    try:
        since_at = parse_since(since) if since else None
    except ValueError as e:
        fail(str(e))
    with client(settings) as es:
        result = run_search(es, settings.posts_alias, build_query(query, source, lang, since_at, sentiment), limit)
    if as_json:
        typer.echo(json.dumps(result.__dict__, ensure_ascii=False, indent=2))
        return
    for hit in result.hits:
        text = " ".join(hit["text"].split())
        typer.echo(f"{hit['created_at'][:16]}  {hit['id']:<28} {hit['language']:<3} {hit['sentiment']['label']:<8} "
                   f"{text[:90]}")  # fmt: skip
    summary = lambda counts: ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"  # noqa: E731
    typer.echo(f"\n{result.total} matching posts | sentiment: {summary(result.by_sentiment)} "
               f"| source: {summary(result.by_source)}")  # fmt: skip
