"""``canyu search``: query the index. Its filter options are shared with ``canyu export``."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from typing import Annotated, Optional

import typer

from canyu.settings import get_settings
from canyu_cli.commands import fail

app = typer.Typer()

QueryArg = Annotated[
    str, typer.Argument(help='simple_query_string syntax: words, "phrases", -not, a|b, prefix*; * for everything')
]

_FILTER_HELP = {
    "source": "only this source, e.g. weibo",
    "lang": "only this language, e.g. zh, ko, en",
    "topic": "only posts with this topic id",
    "intent": "bug_report, feature_request, question, complaint, praise or other",
    "product": "only posts that mention this product id",
    "sentiment": "negative, neutral or positive",
    "author": "only this author id",
    "version": 'only posts that name this version: 1.0.7.0, or a line and version: "hyperos 1.0.7.0", '
    'hyperos:1.0.7.0, "android 14"',
    "item": "only posts grouped into this feedback item",
}
_TIME_HELP = {
    "since": "created at or after: 7d, 12h, 30m, 2w or an ISO date",
    "until": "created at or before: 7d, 12h, 30m, 2w or an ISO date",
}


def _option(name: str, annotation: object) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


_FILTER_PARAMS = [
    *(_option(n, Annotated[Optional[list[str]], typer.Option(help=f"{h} (repeat for any of several)")])
      for n, h in _FILTER_HELP.items()),
    *(_option(n, Annotated[Optional[str], typer.Option(help=h)]) for n, h in _TIME_HELP.items()),
]  # fmt: skip


def with_filters(command: Callable) -> Callable:
    """Give a command the filter options; it receives them as one ``filters: Filters`` argument."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "filters"]

    @functools.wraps(command)
    def wrapper(**kwargs):
        from canyu.filters import Filters, read_time

        options = {p.name: kwargs.pop(p.name) for p in _FILTER_PARAMS}
        try:
            times = {name: options.pop(name) for name in _TIME_HELP}
            filters = Filters(
                **{name: values or [] for name, values in options.items()},
                **{name: read_time(value) if value else None for name, value in times.items()},
            )
        except ValueError as e:
            fail(str(e))
        return command(filters=filters, **kwargs)

    wrapper.__signature__ = inspect.Signature([*own, *_FILTER_PARAMS])
    return wrapper


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


@app.command()
@with_filters
def search(
    query: QueryArg = "*",
    agg: Annotated[
        Optional[list[str]],
        typer.Option(help="a summary: terms:<topic|product|version|...> or date:<hour|day|week|month>"),
    ] = None,
    agg_size: Annotated[int, typer.Option(help="buckets per terms summary")] = 10,
    limit: Annotated[int, typer.Option(help="posts to print")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    min_confidence: Annotated[
        Optional[float],
        typer.Option(
            min=0.0,
            max=1.0,
            help="show a sentiment or intent label less likely than this (0-1) as 'unsure', count it so, "
            "and let --sentiment/--intent match only labels at least this likely",
        ),
    ] = None,
    *,
    filters,
) -> None:
    """Search indexed posts; print the matches, their counts by sentiment and source, and any --agg summaries."""
    import dataclasses

    from canyu_runtime.elastic import client
    from queries.search import Agg, build_query
    from queries.search import search as run_search

    settings = get_settings()
    try:
        aggs = tuple(Agg.parse(spec) for spec in agg or [])
        filters = dataclasses.replace(filters, min_confidence=min_confidence)
    except ValueError as e:
        fail(str(e))
    with client(settings) as es:
        result = run_search(es, settings.posts_alias, build_query(query, filters), limit, aggs, agg_size, filters)
    if as_json:
        typer.echo(json.dumps(result.__dict__, ensure_ascii=False, indent=2))
        return
    for hit in result.hits:
        text = " ".join(hit["text"].split())
        typer.echo(f"{hit['created_at'][:16]}  {hit['id']:<28} {hit['language']:<3} {hit['sentiment']['label']:<8} "
                   f"{text[:90]}")  # fmt: skip
    typer.echo(f"\n{result.total} matching posts | sentiment: {_summary(result.by_sentiment)} "
               f"| source: {_summary(result.by_source)}")  # fmt: skip
    for name, counts in result.aggs.items():
        typer.echo(f"\n{name}")
        width = max((len(str(key)) for key in counts), default=0)
        for key, count in counts.items():
            typer.echo(f"  {key!s:<{width}}  {count}")
