"""``canyu item``: what engineers say about a feedback item, and who reported it.

``ack``, ``fix``, ``reopen`` and ``wontfix`` go through ``canyu_runtime.items.change_item``,
the one function the dashboard calls too: a refusal is the same sentence in both, and
nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from canyu.settings import get_settings
from canyu_cli.commands import fail
from canyu_cli.commands.export import output_format, write_export

app = typer.Typer(help="Acknowledge, fix, reopen or close feedback items; list who reported one.", no_args_is_help=True)

ItemArg = Annotated[str, typer.Argument(help="the feedback item's id, as the dashboard and the index show it")]
InOption = Annotated[Optional[str], typer.Option("--in", help="fix: the version the fix ships in, e.g. 1.0.8.0")]
NoteOption = Annotated[Optional[str], typer.Option(help="why, for the item's history")]
HISTORY_SHOWN = 5  # the latest changes printed after a change


def change(action: str, item_id: str, version: str | None, note: str | None) -> None:
    from pydantic import ValidationError

    from canyu.schema import ItemChange
    from canyu.versions import parse_version
    from canyu_runtime.items import change_item
    from canyu_runtime.reasons import reason_of

    try:
        asked = ItemChange(action=action, version=parse_version(version) if version is not None else None,
                           note=note, by="cli")  # fmt: skip
    except ValidationError as e:
        fail(reason_of(e))
    except ValueError as e:  # the version does not parse
        fail(str(e))
    try:
        changed = change_item(get_settings(), item_id, asked)
    except (LookupError, ValueError) as e:  # an unknown or forgotten item, or a change its state does not allow
        fail(str(e))
    fixed_in = f" in {changed.fixed_in}" if changed.fixed_in else ""
    typer.echo(f"{item_id}: {changed.state}{fixed_in}")
    for past in changed.history[-HISTORY_SHOWN:]:
        what = f"{past.action} {past.version}" if past.version else past.action
        note_shown = f"  {past.note}" if past.note else ""
        typer.echo(f"  {past.at:%Y-%m-%d %H:%M}  {what:<16} by {past.by or '-'}{note_shown}")


ACTIONS = {  # what each command does, as its help says it
    "ack": "Acknowledge an open item: someone is looking at it.",
    "fix": "Mark an item fixed, with --in the version the fix ships in (again to move it to a later one).",
    "reopen": "Open again an item that was acknowledged, fixed or set aside.",
    "wontfix": "Set an item aside: it will not be fixed.",
}


def _add_action(action: str, help_text: str) -> None:
    def command(item_id: ItemArg, version: InOption = None, note: NoteOption = None) -> None:
        change(action, item_id, version, note)

    app.command(action, help=help_text)(command)


for _action, _help in ACTIONS.items():
    _add_action(_action, _help)


@app.command("reporters")
def reporters(
    item_id: ItemArg,
    fmt: Annotated[
        Optional[str], typer.Option("--format", help="csv or jsonl; default: the file's suffix, or csv")
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="file to write; default: standard output")
    ] = None,
) -> None:
    """The posts that reported an item, with their link, source, language, time, author and versions named."""
    from canyu_runtime.elastic import client
    from canyu_runtime.items import UnknownItem, find_item
    from queries.reporters import COLUMNS, FORMATS, reporter, reporters_query

    fmt = output_format(fmt, output, FORMATS)
    settings = get_settings()
    with client(settings) as es:
        try:
            find_item(es, settings, item_id)
        except UnknownItem as e:
            fail(str(e))
        written = write_export(es, settings.posts_alias, reporters_query(item_id), output, fmt,
                               columns=COLUMNS, row=reporter)  # fmt: skip
    typer.echo(f"{written} posts reported {item_id}, written as {fmt} to {output or 'standard output'}", err=True)
