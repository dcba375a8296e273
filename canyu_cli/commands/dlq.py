"""``canyu dlq``: look at the dead letters, and send fixed ones back to the topic they came from."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer

from canyu.settings import get_settings
from canyu_cli.commands import fail

app = typer.Typer(help="Inspect dead letters by stage, source and reason; replay fixed ones.", no_args_is_help=True)

Stage = Annotated[Optional[str], typer.Option(help="only this stage: produce, enrich, sink, deliver")]
Source = Annotated[Optional[str], typer.Option(help="only letters from this source")]
Reason = Annotated[Optional[str], typer.Option(help="only letters whose reason contains this text")]


def _select(stage: str | None, source: str | None, reason: str | None, refs: list[str] | None = None) -> list:
    from canyu_runtime.dead_letters import read_dead_letters

    def wanted(stored) -> bool:
        letter = stored.letter
        if refs and stored.ref not in refs:
            return False
        if letter is None:  # not a dead letter at all: shown only when nothing narrows the list
            return not (stage or source or reason)
        return ((not stage or letter.stage == stage) and (not source or letter.source == source)
                and (not reason or reason.lower() in letter.reason.lower()))  # fmt: skip

    return [stored for stored in read_dead_letters(get_settings()) if wanted(stored)]


@app.command("list")
def list_(stage: Stage = None, source: Source = None, reason: Reason = None,
          limit: Annotated[int, typer.Option(help="letters to print, newest last")] = 50) -> None:  # fmt: skip
    """Print the dead letters (PARTITION:OFFSET, when, stage, source, reason) and a count by stage and reason."""
    found = _select(stage, source, reason)
    for stored in found[-limit:]:
        letter = stored.letter
        if letter is None:
            typer.echo(f"{stored.ref:<10} (not a dead letter: {len(stored.value or b'')} bytes)")
            continue
        typer.echo(f"{stored.ref:<10} {letter.failed_at:%Y-%m-%d %H:%M:%S}  {letter.stage:<8} "
                   f"{letter.source or '-':<16} {letter.reason[:100]}")  # fmt: skip
    by_kind = Counter((s.letter.stage, s.letter.reason.split(":")[0][:60]) for s in found if s.letter)
    typer.echo(f"\n{len(found)} dead letter(s)" + (f", the last {limit} shown" if len(found) > limit else ""))
    for (letter_stage, why), count in by_kind.most_common():
        typer.echo(f"  {count:>6}  {letter_stage:<8} {why}")


@app.command()
def show(ref: Annotated[str, typer.Argument(help="PARTITION:OFFSET, as `canyu dlq list` prints it")]) -> None:
    """Print one dead letter whole, with its original record decoded."""
    found = _select(None, None, None, [ref])
    if not found:
        fail(f"no dead letter at {ref}; `canyu dlq list` shows where they are")
    letter = found[0].letter
    if letter is None:
        fail(f"{ref} is not a dead letter: {found[0].value!r}")
    typer.echo(json.dumps(letter.model_dump(mode="json", exclude={"raw_base64"}), ensure_ascii=False, indent=2))
    typer.echo("record:")
    typer.echo(letter.raw().decode("utf-8", "replace"))


@app.command()
def replay(
    refs: Annotated[
        Optional[list[str]], typer.Argument(help="PARTITION:OFFSET of each letter; default: all selected")
    ] = None,
    stage: Stage = None,
    source: Source = None,
    reason: Reason = None,
    value_file: Annotated[
        Optional[Path],
        typer.Option(exists=True, dir_okay=False, help="with one letter: send this record instead"),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="only list what would be sent")] = False,
) -> None:
    """Send dead letters' records back to the topic they came from, keyed as before, and wait for Kafka's acks.

    Replay the ones whose cause is gone (an outage, a fixed mapping), or give one a fixed
    record with --value-file. The letters stay on the dead-letter topic; a record that
    fails again becomes a new dead letter.
    """
    from canyu_runtime.dead_letters import send_back
    from canyu_runtime.kafka_clients import make_producer

    if not (refs or stage or source or reason):
        fail("name the letters: PARTITION:OFFSET, or --stage, --source or --reason")
    found = [s for s in _select(stage, source, reason, refs) if s.letter is not None]
    if value_file and len(found) != 1:
        fail(f"--value-file goes with exactly one letter; {len(found)} selected")
    if not found:
        fail("no dead letter matches")
    value = value_file.read_bytes() if value_file else None
    for stored in found:
        typer.echo(f"{'would send' if dry_run else 'sending'} {stored.ref} back to {stored.letter.topic}")
    if dry_run:
        return
    producer = make_producer(get_settings())
    try:
        futures = [send_back(producer, s.letter, value) for s in found]
        for future in futures:
            future.get(timeout=60)
    except ValueError as e:
        fail(str(e))
    finally:
        producer.close()
    typer.echo(f"sent {len(found)} record(s) back")
