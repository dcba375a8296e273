"""``canyu up``: the whole pipeline on a local stack with the built-in sample corpus."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import typer
from tqdm import tqdm

from canyu.settings import Settings
from canyu_runtime.private import ensure_webhook_secret, open_private, without_credentials

INDEX_TIMEOUT_S = 300
STORY_TIMEOUT_S = 180  # for the sample's release story to show, once every post is indexed
LIVENESS_EVERY_S = 15  # how often `canyu up` checks that the worker makes progress


def _start(role: str, settings: Settings) -> tuple[subprocess.Popen, Path]:
    log = settings.home / "logs" / f"{settings.namespace}{role}.log"
    with open_private(log) as out:  # 0600 in a 0700 folder: a service's log is the operator's only
        # Its own session: Ctrl-C reaches only this job, which then stops the services in order
        # instead of finding them already gone.
        proc = subprocess.Popen(
            [sys.executable, "-m", "canyu_cli", role],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return proc, log


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_indexed(settings: Settings, expected: int, procs: dict[str, tuple[subprocess.Popen, Path]]) -> None:
    from canyu_runtime.elastic import client
    from canyu_runtime.retry import NotReady, wait_until

    with client(settings) as es, tqdm(total=expected, unit="post", desc="indexed") as bar:

        def indexed() -> None:
            _check_running(procs)
            es.indices.refresh(index=settings.posts_alias)
            count = es.count(index=settings.posts_alias)["count"]
            bar.update(count - bar.n)
            if count < expected:
                raise NotReady(f"only {count} of {expected} posts indexed")

        wait_until(indexed, timeout_s=INDEX_TIMEOUT_S, what="indexing the sample posts")


def _check_running(procs: dict[str, tuple[subprocess.Popen, Path]]) -> None:
    for role, (proc, log) in procs.items():
        if proc.poll() is not None:
            raise RuntimeError(f"the {role} exited with code {proc.returncode}; see {log}")


def _tell_story(settings: Settings, story, procs: dict[str, tuple[subprocess.Popen, Path]]) -> dict[str, dict]:
    """Apply the sample's item changes, and wait until the dashboard shows the releases' impacts and
    each fix judged (canyu_cli/sample_story.py); the changed items, as indexed."""
    from canyu_cli.sample_story import apply_changes, not_shown
    from canyu_runtime.elastic import client
    from canyu_runtime.retry import NotReady, wait_until

    deadline = time.monotonic() + STORY_TIMEOUT_S
    with client(settings) as es, tqdm(total=len(story.changes), unit="step", desc="release story") as bar:
        told = apply_changes(settings, story, es, deadline, step=lambda: bar.update())
        bar.total += len(story.releases) + len(story.fix_versions()) + len(told.expected)  # then what to show

        def shown() -> dict[str, dict]:
            _check_running(procs)
            missing, items = not_shown(settings, story, told, es)
            bar.update(bar.total - len(missing) - bar.n)
            if missing:
                raise NotReady(f"{'; '.join(missing)}; see {procs['worker'][1]}")
            return items

        try:
            return wait_until(shown, timeout_s=max(0.0, deadline - time.monotonic()), what="the sample's release story")
        except NotReady as e:
            raise RuntimeError(str(e)) from None


def restart_stalled_worker(settings: Settings, procs: dict[str, tuple[subprocess.Popen, Path]]) -> bool:
    """Restart the worker when its partitions lag and its commits stopped (``canyu health worker``'s rule)."""
    from canyu_cli.liveness import worker_liveness

    liveness = worker_liveness(settings)
    if not liveness.stalled:
        return False
    typer.secho(f"the worker is stalled ({'; '.join(liveness.problems())}); restarting it", fg=typer.colors.YELLOW,
                err=True)  # fmt: skip
    _stop([procs["worker"][0]])
    procs["worker"] = _start("worker", settings)
    return True


def run_main_job(settings: Settings, keep_running: bool = True) -> int:
    from canyu_cli.sample_story import Story, register_releases, summary
    from canyu_cli.stack.servers import servers
    from canyu_runtime.elastic import client
    from canyu_runtime.kafka_clients import ensure_topics
    from canyu_runtime.migrations import migrate
    from dashboard.auth import with_tokens
    from dashboard.launch import dashboard_url, wait_showing
    from producers.replay import replay, sample_corpus

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as cleanly as Ctrl-C
    stack = servers(settings)
    for server in stack:
        typer.echo(f"{server.name} {server.pin.version}: starting ...")
        server.up()
    ensure_topics(settings)
    with client(settings) as es:
        migrate(es, settings)
    ensure_webhook_secret(settings)  # as `canyu init` does: webhooks are signed by default
    ready = with_tokens(settings)  # unset tokens made now, in their files, which the dashboard process reads too
    story = Story.load()
    register_releases(settings, story)  # before any post, so the worker judges every post against them
    procs = {role: _start(role, settings) for role in ("worker", "sink", "deliver", "dashboard")}
    try:
        result = replay(sample_corpus(), settings)
        if result.unacknowledged or result.rejected:
            raise RuntimeError(f"the sample replay lost posts: {result.unacknowledged or result.rejected}")
        _wait_indexed(settings, result.published, procs)
        changed = _tell_story(settings, story, procs)
        wait_showing(ready, result.published)
        es_url = without_credentials(settings.elasticsearch.url)
        typer.echo(
            f"\nAll {result.published} sample posts are indexed in Elasticsearch ({es_url}, "
            f"alias {settings.posts_alias}).\nTry, in another terminal:\n"
            '  canyu search "battery"\n  canyu search "电池" --sentiment negative\n'
            '  canyu search "카메라" --lang ko\n'
            f"Logs: {procs['worker'][1]}, {procs['sink'][1]}; servers: canyu stack logs kafka|elasticsearch"
        )
        first = story.releases[0]
        typer.echo("\n".join([
            "\nThe sample tells a release story, from the posts to the fixes:", *summary(settings, changed),
            f"See the dashboard's Releases panel, `canyu release report {first.product} {first.version}`, and "
            "docs/releases.md, which walks through it.",
        ]))  # fmt: skip
        if keep_running:
            typer.echo("The worker, sink, alert delivery and dashboard keep running; Ctrl-C stops everything.")
        typer.echo(f"\nDashboard (the sample corpus, live): {dashboard_url(settings)}")
        if keep_running:
            watched_since = time.monotonic()
            while all(proc.poll() is None for proc, _ in procs.values()):
                time.sleep(1)
                if time.monotonic() - watched_since >= LIVENESS_EVERY_S:
                    watched_since = time.monotonic()
                    restart_stalled_worker(settings, procs)
            typer.secho("a pipeline process exited; stopping", fg=typer.colors.RED, err=True)
            return 1
        return 0
    except KeyboardInterrupt:
        typer.echo("\nstopping ...")
        return 0
    except RuntimeError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        return 1
    finally:
        _stop([proc for proc, _ in procs.values()])
        if keep_running:
            for server in reversed(stack):
                server.down()
            typer.echo(f"pipeline, Kafka and Elasticsearch stopped; data is kept under {settings.home}")
