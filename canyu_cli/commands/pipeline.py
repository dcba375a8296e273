"""The pipeline's services and the main job: init, replay, worker, sink, health, up."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from canyu.settings import get_settings
from canyu_cli.commands import MetricsPort, fail

app = typer.Typer()


@app.command()
def init() -> None:
    """Create the Kafka topics and the Elasticsearch templates, indices and aliases, and store a webhook secret
    when the webhook_secret setting is unset, so that webhooks are signed by default (idempotent)."""
    from canyu_cli.commands.index import migrate
    from canyu_runtime.kafka_clients import ensure_topics
    from canyu_runtime.private import ensure_webhook_secret

    settings = get_settings()
    created = ensure_topics(settings)
    typer.echo(f"topics: {', '.join(settings.all_topics)} ({len(created)} created)")
    migrate()
    typer.echo(ensure_webhook_secret(settings))


@app.command()
def replay(
    file: Annotated[Optional[Path], typer.Argument(help="JSONL of posts; default: the built-in sample")] = None,
    rate: Annotated[Optional[float], typer.Option(help="posts per second; default: as fast as possible")] = None,
) -> None:
    """Publish a JSONL file of posts to posts.raw, keyed by post id, with acks=all."""
    from producers.replay import replay as run_replay
    from producers.replay import sample_corpus

    path = file or sample_corpus()
    if not path.is_file():
        fail(f"{path} is not a file")
    result = run_replay(path, get_settings(), rate=rate)
    for line, reason in result.rejected:
        typer.secho(f"{path}:{line}: skipped, {reason}", fg=typer.colors.YELLOW, err=True)
    for failure in result.unacknowledged:
        typer.secho(f"not acknowledged: {failure}", fg=typer.colors.RED, err=True)
    typer.echo(f"published {result.published} posts, skipped {len(result.rejected)} invalid lines")
    if result.unacknowledged:
        raise typer.Exit(1)


@app.command()
def worker(metrics_port: MetricsPort = None) -> None:
    """Run the Faust enrichment worker: posts.raw → classifier → posts.enriched (bad records → dead-letters)."""
    from canyu_runtime.metrics import METRICS
    from streams.app import run_worker

    settings = get_settings()
    METRICS.start("worker", settings, settings.worker_app_id, metrics_port, instance=str(settings.worker.web_port))
    run_worker(settings)


@app.command()
def sink(metrics_port: MetricsPort = None) -> None:
    """Run the Elasticsearch sink: enriched posts, alerts, feedback items and cascades → bulk index.

    Offsets are committed only after Elasticsearch has acknowledged each batch.
    """
    from canyu_runtime.metrics import METRICS
    from canyu_runtime.private import without_credentials
    from canyu_runtime.process import configure_logging, stop_on_signals
    from sinks.elasticsearch import ElasticsearchSink

    configure_logging()
    settings = get_settings()
    METRICS.start("sink", settings, settings.sink_group, metrics_port)
    try:
        es_sink = ElasticsearchSink(settings)
        where = without_credentials(settings.elasticsearch.url)
        typer.echo(f"sink: {', '.join(es_sink.topics)} → Elasticsearch {where}")
        es_sink.run(stop_on_signals())
    except ValueError as e:  # a setting no retry can fix
        fail(str(e))


@app.command()
def deliver(metrics_port: MetricsPort = None) -> None:
    """Run the notification delivery sink: notifications → webhooks, Slack, email or Kafka, at least once."""
    from canyu_runtime.metrics import METRICS
    from canyu_runtime.process import configure_logging, stop_on_signals
    from sinks.delivery import DeliverySink

    configure_logging()
    METRICS.start("deliver", get_settings(), get_settings().delivery_group, metrics_port)
    delivery = DeliverySink(get_settings())
    typer.echo(f"deliver: {', '.join(delivery.topics)} → subscribers' channels")
    try:
        delivery.run(stop_on_signals())
    except ValueError as e:  # a setting no retry can fix: no webhook secret
        fail(str(e))


@app.command()
def health(service: Annotated[str, typer.Argument(help="worker, sink or deliver")]) -> None:
    """Exit 0 when a pipeline service on this machine is alive (for container health checks).

    A worker must answer on its web port, and none of its partitions may lag with no commit for
    ``worker_stall_s`` seconds (each check records the offsets it saw, for the next one).
    """
    settings = get_settings()
    if service == "worker":
        from canyu_cli.liveness import worker_liveness

        liveness = worker_liveness(settings)
        if liveness.kafka_error:
            typer.secho(f"warning: {liveness.kafka_error}", fg=typer.colors.YELLOW, err=True)
        if liveness.problems():
            fail("; ".join(liveness.problems()))
    elif service in ("sink", "deliver"):
        from sinks.base import heartbeat_age_s

        group = settings.sink_group if service == "sink" else settings.delivery_group
        path = settings.home / "run" / f"{group}.heartbeat"
        age = heartbeat_age_s(path)
        if age is None or age > 60 + settings.sink.wait_s * 3:
            fail(f"sink heartbeat {path} is {'missing' if age is None else f'{age:.0f}s old'}")
    else:
        fail(f"unknown service {service!r}; choose worker, sink or deliver")
    typer.echo(f"{service}: healthy")


@app.command()
def status() -> None:
    """Each service's consumer lag (from Kafka), rate and last error; exit 1 when one is stalled.

    A service is stalled when a partition lags with no commit for ``worker_stall_s`` seconds.
    Each run records the offsets it saw, so the first run can only say so on the next.
    """
    from canyu_cli.liveness import SERVICES, statuses
    from canyu_runtime.lag import check, group_of

    settings = get_settings()
    any_stalled = False
    for service in SERVICES:
        verdict = check(settings, service)
        live = statuses(settings, service)
        lagging = " ".join(f"{p.topic}[{p.partition}]={p.lag}" for p in verdict.lags if p.lag)
        rate = f"{sum(s.get('rate_per_s') or 0 for s in live):.1f} records/s" if live else "not running here"
        errors = sorted((s["last_error_at"], s["last_error"]) for s in live if s.get("last_error"))
        if verdict.stalled:
            any_stalled = True
            worst, still = max(verdict.stalled, key=lambda found: found[1])
            state = f"STALLED ({worst.topic}[{worst.partition}]: no commit for {still:.0f}s)"
        elif verdict.total_lag and verdict.first_look:
            state = "lagging (first look: run again to tell a stall)"
        else:
            state = "ok"
        typer.echo(f"{service} ({group_of(settings, service)}): {state}; lag {verdict.total_lag}"
                   f"{f' ({lagging})' if lagging else ''}; {rate}; "
                   f"last error: {errors[-1][1] if errors else 'none'}")  # fmt: skip
    if any_stalled:
        raise typer.Exit(1)


@app.command()
def up(
    exit_when_indexed: Annotated[
        bool, typer.Option(help="stop the worker and sink once the sample is searchable, instead of running on")
    ] = False,
) -> None:
    """The whole pipeline on a local stack: servers, topics, index, worker, sink and the sample corpus.

    Runs until Ctrl-C, which stops everything it started.
    """
    from canyu_cli.main_job import run_main_job

    sys.exit(run_main_job(get_settings(), keep_running=not exit_when_indexed))
