"""``canyu release``: the builds that shipped, registered by a team or seen in posts by the worker.

Both kinds live on the compacted releases topic under ``<product>|<version>``; the worker
reads them from there to compute each release's impact and to watch the fixes it ships.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from canyu.settings import get_settings
from canyu_cli.commands import fail

app = typer.Typer(help="Register the builds that shipped; list them with those seen in posts.", no_args_is_help=True)


def parse_release_date(text: str) -> datetime:
    """An ISO date (midnight UTC) or datetime (UTC when it names no zone), kept in UTC. Nothing relative:
    a release is a fixed point in time, not one that moves with the day the command is typed."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--date {text!r}: use an ISO date like 2026-11-20 or a datetime like 2026-11-20T09:00+08:00"
        ) from None
    return at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _warn(message: str) -> None:
    typer.secho(f"warning: {message}", fg=typer.colors.YELLOW, err=True)


def _known_product(product: str) -> bool:
    from canyu.versions import SOFTWARE_LINES
    from streams.products import Catalogue

    return product in SOFTWARE_LINES or product in set(Catalogue.load().aliases.values())


def _same_release(current: dict, product: str, version: str):
    """The release already on the topic for this product at this release point ("1.0.7" is "1.0.7.0"), if any."""
    from canyu.versions import version_key

    same = [r for r in current.values() if r.product == product and version_key(r.version) == version_key(version)]
    return same[0] if same else None


@app.command("add")
def add(
    product: Annotated[str, typer.Argument(help="a catalogue product id or a software line: xiaomi-14, hyperos")],
    version: Annotated[str, typer.Argument(help="the version that shipped, e.g. 1.0.7.0 or v3.2.1")],
    date: Annotated[str, typer.Option(help="when it shipped: an ISO date (midnight UTC) or datetime")],
    notes: Annotated[Optional[str], typer.Option(help="the release notes' http(s) URL")] = None,
) -> None:
    """Register a release (or correct one: the latest record per product and version wins)."""
    from pydantic import ValidationError

    from canyu.schema import SLUG, Release, target_problem
    from canyu.versions import parse_version
    from canyu_runtime.reasons import reason_of
    from canyu_runtime.registry import releases

    settings = get_settings()
    if not re.match(SLUG, product):
        fail(f"{product!r} is not a product id: use lower-case letters, digits, '.', '_' and '-', like xiaomi-14")
    try:
        version = parse_version(version)
        shipped = parse_release_date(date)
    except ValueError as e:
        fail(str(e))
    floor = settings.dates.floor
    if shipped < floor:
        fail(f"--date {shipped.isoformat()} is before {floor.isoformat()}, the earliest date canyu takes")
    if notes is not None and (problem := target_problem("webhook", notes)):
        fail(f"--notes {notes!r} {problem}")
    if not _known_product(product):
        _warn(f"{product!r} is neither a product of the catalogue (streams/conf/products.yaml) nor a software line;"
              " posts name it only if it is one of them")  # fmt: skip
    registry = releases(settings)
    earlier = _same_release(registry.current(), product, version)
    if earlier is not None and earlier.version != version:
        version = earlier.version  # one record per release point, in the spelling it already has
    try:
        release = Release(product=product, version=version, date=shipped, notes_url=notes)
    except ValidationError as e:
        fail(reason_of(e))
    registry.put(release)
    verb = "updated" if earlier is not None else "registered"
    typer.echo(f"{release.key}: {verb}, shipped {release.date.isoformat()}")
    if release.date > datetime.now(timezone.utc):
        _warn("that date is in the future: its impact is computed from then on")


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="print the releases as JSON")] = False) -> None:
    """Every release, registered or seen in posts, oldest first."""
    from canyu_runtime.registry import releases

    current = sorted(releases(get_settings()).current().values(), key=lambda r: (r.date, r.product, r.version))
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in current], ensure_ascii=False, indent=2))
        return
    for r in current:
        authors = f"{r.authors} authors" if r.authors is not None else "-"
        typer.echo(f"{r.date.astimezone(timezone.utc):%Y-%m-%d %H:%MZ}  {r.product:<20} {r.version:<14} "
                   f"{r.source:<10}  {authors:<11}  {r.notes_url or '-'}")  # fmt: skip
    if not current:
        typer.echo("no releases")


@app.command("rm")
def rm(
    product: Annotated[str, typer.Argument(help="the release's product or software line")],
    version: Annotated[str, typer.Argument(help="its version")],
) -> None:
    """Remove a release."""
    from canyu.versions import parse_version
    from canyu_runtime.registry import releases

    try:
        version = parse_version(version)
    except ValueError as e:
        fail(str(e))
    registry = releases(get_settings())
    release = _same_release(registry.current(), product, version)
    if release is None or not registry.remove(release.key):
        fail(f"no release {product} {version}; `canyu release list` shows them")
    typer.echo(f"{release.key}: removed")


@app.command("report")
def report(
    product: Annotated[str, typer.Argument(help="the release's product or software line")],
    version: Annotated[str, typer.Argument(help="its version")],
    as_json: Annotated[bool, typer.Option("--json", help="print the impact as JSON")] = False,
) -> None:
    """What a release did: regressions, quieted and persisting items, the negative share (docs/releases.md)."""
    from canyu.versions import parse_version
    from canyu_runtime.elastic import client
    from queries.releases import find_impact, render

    settings = get_settings()
    try:
        version = parse_version(version)
    except ValueError as e:
        fail(str(e))
    with client(settings) as es:
        impact = find_impact(es, settings, product, version)
    if impact is None:
        window = settings.releases.window_days
        fail(f"no impact of {product} {version} yet: `canyu release list` shows the releases; the worker computes "
             f"an impact once posts about {product} come within {window} days of its date")  # fmt: skip
    typer.echo(impact.model_dump_json(indent=2) if as_json else render(impact))
