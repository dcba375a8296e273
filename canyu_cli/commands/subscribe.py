"""``canyu subscribe``: engineers subscribe to the alerts that concern them."""

from __future__ import annotations

import uuid
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from canyu.settings import get_settings
from canyu_cli.commands import fail
from canyu_runtime.reasons import reason_of

app = typer.Typer(help="Manage alert subscriptions (stored in a compacted Kafka topic).", no_args_is_help=True)

Many = Annotated[Optional[list[str]], typer.Option()]


@app.command("add")
def add(
    name: Annotated[str, typer.Option(help="a name people will recognise")],
    webhook: Annotated[Optional[str], typer.Option(help="POST signed JSON to this URL")] = None,
    slack: Annotated[Optional[str], typer.Option(help="a Slack-compatible incoming-webhook URL")] = None,
    email: Annotated[Optional[str], typer.Option(help="send an email to this address")] = None,
    kafka: Annotated[Optional[str], typer.Option(help="publish to this Kafka topic")] = None,
    secret_env: Annotated[Optional[str], typer.Option(help="env variable with the webhook's HMAC key")] = None,
    topic: Many = None,
    product: Many = None,
    intent: Many = None,
    sentiment: Many = None,
    kind: Annotated[
        Optional[list[str]], typer.Option(help="alert kinds: spike, viral, regression (after a release), fix_failed")
    ] = None,
    query: Annotated[Optional[str], typer.Option(help="text one of the alert's sample posts must contain")] = None,
    min_observed: Annotated[Optional[float], typer.Option(help="only alerts at least this large")] = None,
) -> None:
    """Subscribe a channel to alerts. Repeat --topic/--product/--intent/--sentiment/--kind to allow several."""
    from canyu.schema import Channel, Subscription, SubscriptionMatch
    from canyu_runtime.private import webhook_secret
    from canyu_runtime.subscriptions import SubscriptionStore

    channels = {"webhook": webhook, "slack": slack, "email": email, "kafka": kafka}
    chosen = [(kind_, target) for kind_, target in channels.items() if target]
    if len(chosen) != 1:
        fail("give exactly one channel: --webhook, --slack, --email or --kafka")
    ((channel_type, target),) = chosen
    try:
        subscription = Subscription(
            id=f"sub-{uuid.uuid4().hex[:12]}",
            name=name,
            match=SubscriptionMatch(topics=topic or [], products=product or [], intents=intent or [],
                                    sentiments=sentiment or [], alert_kinds=kind or [], query=query),
            min_observed=min_observed,
            channel=Channel(type=channel_type, target=target, secret_env=secret_env),
        )  # fmt: skip
    except ValidationError as e:
        fail(reason_of(e))
    SubscriptionStore(get_settings()).put(subscription)
    typer.echo(f"{subscription.id}: subscribed {channel_type} {target}")
    if channel_type == "webhook" and not secret_env and not webhook_secret(get_settings()):
        typer.secho(
            "warning: there is no default webhook secret yet, and webhooks are never sent unsigned: run "
            "`canyu init` (or set webhook_secret) before `canyu deliver`",
            fg=typer.colors.YELLOW,
            err=True,
        )


@app.command("list")
def list_() -> None:
    """Every current subscription."""
    from canyu_runtime.subscriptions import SubscriptionStore

    current = SubscriptionStore(get_settings()).current()
    for sub in current.values():
        match = sub.match.model_dump(exclude_defaults=True)
        threshold = "every alert" if sub.min_observed is None else f">= {sub.min_observed:g}"
        typer.echo(f"{sub.id}  {sub.name!r}  {sub.channel.type} {sub.channel.target}  match={match}  {threshold}")
    if not current:
        typer.echo("no subscriptions")


@app.command("rm")
def rm(subscription_id: str) -> None:
    """Remove a subscription by id."""
    from canyu_runtime.subscriptions import SubscriptionStore

    if not SubscriptionStore(get_settings()).remove(subscription_id):
        fail(f"no subscription {subscription_id!r}; `canyu subscribe list` shows the ids")
    typer.echo(f"{subscription_id}: removed")
