"""The command line: which sections run, in what order, and their cleanup."""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
from pathlib import Path

from bench.corpus import make_posts, read_texts
from bench.pipeline.baseline import classifier_alone
from bench.pipeline.changelog import changelog
from bench.pipeline.end_to_end import end_to_end
from bench.pipeline.latency import latency
from bench.pipeline.namespace import Pipeline
from bench.pipeline.processes import rss_mib
from bench.pipeline.recovery import recovery
from bench.pipeline.report import report
from bench.pipeline.scaling import scaling
from bench.pipeline.state import with_state
from bench.pipeline.stateful import stateful_step
from bench.pipeline.warm_up import warm_up
from canyu.settings import Settings

SECTIONS = ("classifier", "signals", "e2e", "changelog", "latency", "state", "recovery", "scaling")
ONE_WORKER = {"e2e", "changelog", "latency", "state", "recovery"}  # the sections of one pipeline, in turn


def parse(argv: list[str] | None) -> argparse.Namespace:
    from bench.pipeline import __doc__ as doc

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000, help="posts for the classifier, e2e and scaling")
    parser.add_argument("--state-posts", type=int, default=100_000, help="posts of the longer run (state)")
    parser.add_argument("--latency-s", type=float, default=30, help="seconds of steady publishing")
    parser.add_argument("--latency-rate", type=float, help="posts/s for latency; default: half the e2e rate")
    parser.add_argument("--skip", default="", help=f"comma-separated sections: {','.join(SECTIONS)}")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--warm-up-posts", type=int, default=5_000, help="posts per warm-up round (bench.pipeline.warm_up)"
    )
    cold = "no warm-up: each clock starts at the first publish to the just-started worker and sink"
    parser.add_argument("--cold", action="store_true", help=cold)
    parser.add_argument("--signals-posts", type=int, default=10_000, help="posts timed in the signals section")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(SECTIONS):
        parser.error(f"unknown sections {sorted(skip - set(SECTIONS))}; known: {','.join(SECTIONS)}")
    args.run = [s for s in SECTIONS if s not in skip]
    return args


def stack_down(settings: Settings) -> list[str]:
    """The servers of the stack that do not answer their health check at the settings' addresses."""
    from canyu_cli.stack.servers import servers

    return [f"{s.name} at {s.address}" for s in servers(settings) if s.check_health() is None]


class Run:
    """One run's settings, posts, figures so far, and the pipelines still to clean up."""

    def __init__(self, args: argparse.Namespace, settings: Settings):
        self.args, self.settings = args, settings
        self.texts, origin = read_texts(args.data)
        self.records = [
            (p.id.encode(), p.model_dump_json().encode()) for p in make_posts(self.texts, args.posts, "e2e")
        ]
        self.logs = Path(tempfile.mkdtemp(prefix="canyu-bench-"))
        self.pipes: list[Pipeline] = []
        self.out: dict = {"posts": args.posts, "state_posts": args.state_posts, "corpus": origin, "cold": args.cold,
                          "classifier": settings.classifier.backend, "batch_size": settings.worker.batch_size,
                          "classifier_threads": settings.classifier.threads}  # fmt: skip
        print(f"posts from {origin}; classifier {settings.classifier.backend}, batch {settings.worker.batch_size}, "
              f"classifier_threads {settings.classifier.threads}; logs in {self.logs}")  # fmt: skip

    def start(self, workers: int = 1, **overrides: object) -> Pipeline:
        """A pipeline in a fresh namespace, its sink and workers started, warmed up unless ``--cold``."""
        pipe = Pipeline(self.settings, self.logs, len(self.records), **overrides)
        self.pipes.append(pipe)
        pipe.init()
        pipe.start("sink")
        names = ["worker"] if workers == 1 else [f"worker{i + 1}" for i in range(workers)]
        for name in names:
            pipe.start("worker", name)
        if not self.args.cold:
            warm_up(pipe, names, self.texts, self.args.warm_up_posts)
        return pipe

    def finish(self, pipe: Pipeline) -> None:
        pipe.stop()
        pipe.forget()
        self.pipes.remove(pipe)

    def one_worker(self) -> None:
        """The sections of one pipeline, in turn: e2e, changelog, latency, state, recovery."""
        run, out, pipe = self.args.run, self.out, self.start()
        if "e2e" in run:
            out["e2e"] = end_to_end(pipe, self.records, f"e2e {self.args.posts} posts")
            out["e2e"]["worker_rss_mib"] = rss_mib(pipe.procs["worker"].pid)
            if "classifier" in run:  # again, so that a machine that changed speed meanwhile shows
                out["classifier_alone_after_e2e"] = classifier_alone(self.settings, self.records)
        if "changelog" in run:
            out["changelog"] = changelog(pipe)
        rate = self.args.latency_rate or (out["e2e"]["posts_per_s"] / 2 if "e2e" in out else None)
        if "latency" in run and rate:
            out["latency"] = latency(pipe, self.texts, rate, self.args.latency_s)
        elif "latency" in run:
            print("latency: skipped, it needs the e2e rate or --latency-rate")
        if "state" in run:
            out["state"] = with_state(pipe, self.texts, self.args.state_posts)
        if "recovery" in run:
            out["recovery"] = recovery(pipe, self.texts)
        self.finish(pipe)

    def sections(self) -> None:
        run, out = self.args.run, self.out
        if "classifier" in run:
            out["classifier_alone"] = classifier_alone(self.settings, self.records)
        if "signals" in run:
            out["signals"] = stateful_step(self.texts, self.args.signals_posts, self.args.state_posts)
        if set(run) & ONE_WORKER:
            self.one_worker()
        if "scaling" in run:
            out.update(scaling(self.start, self.finish, self.records))

    def cleanup(self) -> None:
        for pipe in list(self.pipes):
            self.finish(pipe)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    settings = Settings()
    if set(args.run) - {"classifier"} and (down := stack_down(settings)):
        print(
            f"not healthy: {', '.join(down)}\nStart the stack first, with the same CANYU_* environment: canyu stack up"
        )
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM):  # `kill`, and Ctrl-C even in the background, clean up
        signal.signal(sig, signal.default_int_handler)
    run = Run(args, settings)
    try:
        run.sections()
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up")
        return 130
    finally:
        run.cleanup()
    if args.json:  # first: the figures are kept even if the report below fails
        args.json.write_text(json.dumps(run.out, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    report(run.out)
    return 0
