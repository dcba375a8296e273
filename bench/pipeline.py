"""End to end on the real local stack: posts/s from publish to searchable, latency, state and recovery.

    canyu stack up                # with the same CANYU_* environment as the bench
    .venv-runtime/bin/python -m bench.pipeline [--posts 20000] [--state-posts 100000] [--latency-s 30] [--json PATH]
    .venv-runtime/bin/python -m bench.pipeline --skip scaling,recovery                  # sections to leave out
    # a quick look:
    .venv-runtime/bin/python -m bench.pipeline --posts 500 --state-posts 2000 --latency-s 10 --warm-up-posts 100

It runs in an install like a user's: ``.venv-runtime`` (``make .venv-runtime/bin/.installed``) has
canyu with its runtime dependencies only, as ``pip install canyu`` makes it, and the workers and
sinks it starts run on the same interpreter. The test environment has more (scikit-learn, which
brings threadpoolctl, hid a missing thread limit there: issue 25). The classifier runs
``classifier_threads`` threads in BLAS and OpenMP, alone and in the worker's classifier process
(``tests/unit/streams/test_classifying.py`` checks that one), and the report says what each
library ran alone.

Sections (names for ``--skip``), all in one run, against the Kafka and Elasticsearch of the
settings (``CANYU_*``, ``canyu.toml``) with the configured classifier:

- ``classifier``: the classifier alone, in this process, in batches of ``batch_size`` and with the
  worker's ``classifier_threads``: the baseline. Taken first, and again right after ``e2e``
  when that runs: the ratios are to the mean of the two, because this machine's speed can
  change within a run (in bench18, docs/performance.md, the classifier alone spent 4.50 ms
  of CPU per post, against 3.30 to 3.52 in the runs around it).
- ``signals``: the stateful step alone (``bench.signals``), with empty state and after
  ``--state-posts`` posts of state.
- ``e2e``: a fresh namespace (``bench-<random>.``: its own topics, groups and indices), ``canyu
  init``, one ``canyu worker`` and one ``canyu sink``; N posts published as fast as possible
  (``acks=all``, keyed by id). The clock runs from the first publish until all N are counted in
  the posts alias, and starts only once the worker's ``/assignment/`` lists partitions and
  warm-up posts went all the way (the classifier is loaded, the month index exists, Kafka's
  and Elasticsearch's JVMs have compiled their hot code): rounds of ``--warm-up-posts``, until
  no process spent 10 % less CPU per post than in the round before, eight at most. Then the
  worker's RSS (``/proc/<pid>/status``, with its classifier process), and the CPU each process
  used per post meanwhile (``/proc/<pid>/stat``, with its descendants): the worker, the sink, Kafka and Elasticsearch
  (when their pid files are on this machine) and the bench itself, which publishes and polls;
  and how long each waited, ready to run, for a core (each live thread's ``schedstat``). The
  classifier alone reports its CPU per post too: together they say whether the cores can
  carry the end-to-end rate at all, and the waits say who the cores were short for.
- ``changelog``: records on the worker app's ``*-changelog`` topics (sum of end offsets) per post
  processed, after ``e2e``.
- ``latency``: p50 and p95 from publish to searchable at a steady half of the ``e2e`` rate.
  Each post's ``fetched_at`` is its publish time; a thread searches the alias every 0.2 s for
  posts fetched since the oldest one not yet seen, and notes when each id first shows. The sink
  stamps no indexing time, and searchable is what matters to a reader, so this is the honest
  measure: it includes the index's 1 s refresh (no refresh is forced), and overstates by up to
  one poll (0.2 s). Both clocks are this machine's.
- ``state``: M more posts through the same worker, its RSS sampled at each tenth of the run, to
  see whether it stays flat as the tables grow; and the posts/s with that state.
- ``recovery``: SIGKILL of that worker; a new one on the same web port and app id, and a marker
  post. Seconds from the kill until the new worker's ``/assignment/`` lists partitions, and
  until the marker is searchable (the dead member's Kafka session timed out, the tables
  recovered: the same port is the same local store folder).
- ``scaling``: ``e2e`` again in two fresh namespaces on 4 partitions, with one worker and with
  two (one app id, two web ports); the ratio.

"Searchable" counts what a search returns: the bench never forces a refresh. The machine may
be shared, and the workers, the sink, Kafka, Elasticsearch and this process share its cores: read
the ratios to the classifier alone, measured in the same run, as well as the absolute numbers.
Posts come from ``bench.corpus``. Not a test: it asserts nothing. It stops what it started and deletes its
namespaces' topics, indices and templates at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import httpx
from kafka import TopicPartition
from tqdm import tqdm

from bench import signals as signals_bench
from bench.corpus import make_posts, read_texts
from canyu import topics
from canyu.schema import Post
from canyu.settings import Settings
from canyu_runtime.elastic import client
from canyu_runtime.kafka_clients import make_admin, make_consumer, make_producer

SECTIONS = ("classifier", "signals", "e2e", "changelog", "latency", "state", "recovery", "scaling")
STALL_S = 180  # a wait fails when the count has not moved for this long: worth a look at the logs
POLL_S = 0.2
WARM_UP_FALL, WARM_UP_FALL_MS, WARM_UP_ROUNDS = 0.1, 0.05, 8
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- one namespace: its topics, indices and processes --------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def family(pid: int) -> list[int]:
    """A process and its live descendants: a server's recorded process may be a launcher
    (Elasticsearch's script starts a CLI JVM, which starts the server JVM), and the worker
    classifies in a child process."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:  # it ended meanwhile
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


def _proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:  # it ended meanwhile
        return ""


def cpu_s(pids: list[int]) -> float:
    """CPU seconds (user and system) that these processes have used so far."""
    total = 0
    for member in pids:
        fields = _proc(member, "stat").rsplit(")", 1)[-1].split()
        total += int(fields[11]) + int(fields[12]) if len(fields) > 12 else 0
    return total / CLOCK_TICKS


def wait_s(pids: list[int]) -> float:
    """Seconds that the live threads of these processes have spent ready to run, waiting for a core
    (the second field of each thread's ``schedstat``)."""
    total = 0
    for member in pids:
        for task in Path(f"/proc/{member}/task").glob("*"):
            fields = _proc(member, f"task/{task.name}/schedstat").split()
            total += int(fields[1]) if len(fields) > 1 else 0
    return total / 1e9


def rss_mib(pid: int) -> float:
    """The resident memory of a process and its live descendants."""
    kib = 0
    for member in family(pid):
        kib += sum(int(line.split()[1]) for line in _proc(member, "status").splitlines() if line.startswith("VmRSS:"))
    return kib / 1024


class Usage(NamedTuple):
    cpu_s: float
    wait_s: float  # ready to run, waiting for a core: the cores were short


class Pipeline:
    """A namespace of its own (``bench-<random>.``) with its ``canyu worker``s and ``canyu sink``."""

    def __init__(self, base: Settings, logs: Path, first_post: int, **settings: object):
        """``first_post``: where in ``bench.corpus``'s sequence the posts this pipeline makes
        begin (the ones before it are the e2e section's)."""
        namespace = f"bench-{uuid.uuid4().hex[:8]}."
        self.settings = base.model_copy(update={"namespace": namespace, **settings})
        self.env = {**os.environ, "CANYU_NAMESPACE": namespace}
        self.env.update({f"CANYU_{name.upper()}": str(value) for name, value in settings.items()})
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.published = 0
        self.next_post = first_post
        self.warm_up_ms: list[dict[str, float]] = []  # CPU per post of each warm-up round, by process
        self.es = client(self.settings)

    def init(self) -> None:
        subprocess.run([sys.executable, "-m", "canyu_cli", "init"], env=self.env, check=True, capture_output=True)

    def start(self, role: str, name: str | None = None, port: int | None = None) -> None:
        name = name or role
        if role == "worker":
            self.ports[name] = port or self.ports.get(name) or free_port()
        env = {**self.env, "CANYU_WORKER_WEB_PORT": str(self.ports.get(name, free_port()))}
        with (self.logs / f"{self.settings.namespace}{name}.log").open("ab") as out:
            # Its own session: Ctrl-C reaches only the bench, which then stops its children itself.
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "canyu_cli", role], env=env, stdout=out,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                start_new_session=True)  # fmt: skip

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                log = self.logs / f"{self.settings.namespace}{name}.log"
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with code {proc.returncode}; {log} ends:\n{tail}")

    def assignment(self, name: str) -> list:
        try:
            return httpx.get(f"http://127.0.0.1:{self.ports[name]}/assignment/", timeout=2).raise_for_status().json()
        except (httpx.HTTPError, ValueError):
            return []

    def wait_assigned(self, workers: list[str], timeout: float = 300) -> None:
        """Until every worker owns something and together they own every partition of posts.raw."""
        raw = self.settings.topic(topics.POSTS_RAW)
        wanted = {(raw, p) for p in range(self.settings.topic_partitions)}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            owned = [{tuple(tp) for tp in self.assignment(w)} for w in workers]
            if all(owned) and wanted <= set().union(*owned):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the workers {workers} were not assigned {sorted(wanted)} within {timeout:g}s")

    def new_posts(self, texts: dict[str, list[str]], n: int, tag: str) -> Iterator[Post]:
        """The next ``n`` posts of the corpus's sequence, so that none repeats a post this
        namespace saw: a near-duplicate would be counted only as its original, and cost less."""
        first, self.next_post = self.next_post, self.next_post + n
        return make_posts(texts, n, tag, first)

    def count(self) -> int:
        return self.es.count(index=self.settings.posts_alias)["count"]  # no refresh: what a search sees

    def publish(self, posts: list[tuple[bytes, bytes]] | Iterator[Post]) -> None:
        producer = make_producer(self.settings)
        raw = self.settings.topic(topics.POSTS_RAW)
        for post in posts:
            key, value = post if isinstance(post, tuple) else (post.id.encode(), post.model_dump_json().encode())
            producer.send(raw, key=key, value=value)
            self.published += 1
        producer.flush()
        producer.close()

    def processes(self) -> dict[str, list[int]]:
        """The pids of each process at work, by name: this namespace's, the stack's servers
        (when they run on this machine, from their pid files, with their descendants) and this
        one, "bench" (the publisher and the polls; the workers and the sink it started count
        under their own names). A worker's children are named apart, "<name>'s children": its
        classifier process (and multiprocessing's resource tracker, which idles), whose CPU per
        post times the rate says how busy it was, so whether it was the bottleneck."""
        from canyu_cli.stack.servers import servers

        found = {}
        for name, proc in self.procs.items():
            own, *children = family(proc.pid)
            found[name] = [own]
            if children:
                found[f"{name}'s children"] = children
        for server in servers(self.settings):
            if pid := server.pid():
                found[server.name] = family(pid)
        return {**found, "bench": [os.getpid()]}

    def usage(self) -> dict[str, Usage]:
        """What each of the :meth:`processes` has used so far."""
        return {name: Usage(cpu_s(pids), wait_s(pids)) for name, pids in self.processes().items()}

    def dead_letters(self) -> int:
        consumer = make_consumer(self.settings, enable_auto_commit=False)
        try:
            topic = self.settings.topic(topics.DEAD_LETTERS)
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            return sum(consumer.end_offsets(parts).values())
        finally:
            consumer.close()

    def wait_count(
        self, target: int, what: str, on_poll: Callable[[int], None] | None = None, stall_s: float = STALL_S
    ) -> float:
        """Poll the alias until it counts ``target`` posts; the monotonic time it first did."""
        last, moved, first = -1, time.monotonic(), self.count()
        with tqdm(total=target - first, unit="post", desc=what, leave=False, mininterval=1) as bar:
            while True:
                count = self.count()
                now = time.monotonic()
                bar.update(count - first - bar.n)
                if on_poll:
                    on_poll(count)
                if count >= target:
                    return now
                if count != last:
                    last, moved = count, now
                elif now - moved > stall_s:
                    raise RuntimeError(
                        f"{what}: stuck at {count} of {target} posts for {stall_s:g}s; {self.dead_letters()} dead "
                        f"letters; see the logs in {self.logs}"
                    )
                self.check_alive()
                time.sleep(POLL_S)

    def warm_up(self, workers: list[str], texts: dict[str, list[str]], n: int) -> None:
        """Wait for the assignment, then send rounds of ``n`` posts all the way until no process's
        CPU per post is :func:`still_falling`, at most ``WARM_UP_ROUNDS``: so that the clock
        measures steady work, with the classifier loaded, the month index made, and Kafka's and
        Elasticsearch's JVMs past compiling their hot code. Each round's CPU per post (ms), by
        process, goes to ``warm_up_ms``."""
        self.wait_assigned(workers)
        rounds = self.warm_up_ms
        for round_ in range(1, WARM_UP_ROUNDS + 1):
            target, began = self.count() + n, self.usage()
            self.publish(self.new_posts(texts, n, "warmup"))
            self.wait_count(target, f"warm-up {round_}", stall_s=60)
            used = self.usage()
            rounds.append({name: (used[name].cpu_s - began[name].cpu_s) * 1000 / n for name in began if name in used})
            if len(rounds) > 1 and not still_falling(*rounds[-2:]):
                break

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def forget(self) -> None:
        """Delete this namespace's topics (Faust's own too), groups, indices, templates and files."""
        ns = self.settings.namespace
        admin = make_admin(self.settings, client_id="canyu-bench")
        try:
            mine = [t for t in admin.list_topics() if t.startswith(ns)]
            if mine:
                admin.delete_topics(mine)
            try:
                admin.delete_groups([self.settings.worker_app_id, self.settings.sink_group])
            except Exception:  # a group that never formed; nothing to delete
                pass
        finally:
            admin.close()
        for template in self.es.indices.get_index_template(name=f"{ns}*").get("index_templates", []):
            self.es.indices.delete_index_template(name=template["name"])
        if self.es.cluster.exists_component_template(name=f"{ns}*"):
            self.es.cluster.delete_component_template(name=f"{ns}*")
        self.es.indices.delete(index=f"{ns}*", allow_no_indices=True, expand_wildcards="all")
        for folder in ("faust", "run"):
            for path in (self.settings.home / folder).glob(f"{ns}*"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.es.close()


def still_falling(before: dict[str, float], now: dict[str, float]) -> bool:
    """Whether some process spent less CPU per post than before, by ``WARM_UP_FALL`` of it and
    ``WARM_UP_FALL_MS`` at least."""
    return any(
        before[name] - ms > max(WARM_UP_FALL * before[name], WARM_UP_FALL_MS)
        for name, ms in now.items()
        if name in before
    )


# --- the sections --------------------------------------------------------------------------


def classifier_alone(settings: Settings, texts: list[str]) -> dict:
    from models import describe_threads, load_classifier, thread_counts

    # The worker's own thread budget, so that the baseline is given no more cores than the worker.
    clf = load_classifier(settings.classifier, threads=settings.classifier_threads)
    clf.classify(texts[:8])  # warm up lazily loaded parts
    began, cpu_began = time.perf_counter(), time.process_time()
    for start in tqdm(range(0, len(texts), settings.batch_size), desc="classifier alone", leave=False, mininterval=1):
        clf.classify(texts[start : start + settings.batch_size])
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    return {
        "posts_per_s": len(texts) / seconds,
        "classifier": clf.name,
        "threads": describe_threads(thread_counts()),
        "cpu_ms_per_post": {"classifier": cpu * 1000 / len(texts)},
        "cores_busy": cpu / seconds,
    }


def end_to_end(pipe: Pipeline, records: list[tuple[bytes, bytes]], what: str) -> dict:
    """Publish every record as fast as one producer can, and time them until all are searchable."""
    target = pipe.count() + len(records)
    publisher = threading.Thread(target=pipe.publish, args=(records,), daemon=True)
    cpu_began = pipe.usage()
    began = time.monotonic()
    publisher.start()
    ended = pipe.wait_count(target, what)
    publisher.join()
    return {
        "posts": len(records),
        "seconds": ended - began,
        "posts_per_s": len(records) / (ended - began),
        **cpu_use(pipe, cpu_began, len(records), ended - began),
        "warm_up_ms": pipe.warm_up_ms,
    }


def cpu_use(pipe: Pipeline, began: dict[str, Usage], posts: int, seconds: float) -> dict:
    """Each process's CPU per post since ``began`` (what ``usage`` said then), the cores busy, and
    each process's wait for a core per post."""
    now = pipe.usage()
    spent = {name: Usage(now[name].cpu_s - used.cpu_s, now[name].wait_s - used.wait_s) for name, used in began.items()
             if name in now}  # fmt: skip
    return {
        "cpu_ms_per_post": {name: used.cpu_s * 1000 / posts for name, used in spent.items()},
        "cores_busy": sum(used.cpu_s for used in spent.values()) / seconds,
        "wait_ms_per_post": {name: used.wait_s * 1000 / posts for name, used in spent.items()},
    }


def changelog_records(settings: Settings) -> dict[str, int]:
    """Records written to each changelog topic of the worker app: the sum of its end offsets."""
    consumer = make_consumer(settings, enable_auto_commit=False)
    try:
        names = [
            t for t in consumer.topics() if t.startswith(f"{settings.worker_app_id}-") and t.endswith("-changelog")
        ]
        parts = [TopicPartition(t, p) for t in names for p in consumer.partitions_for_topic(t) or ()]
        ends = consumer.end_offsets(parts)
    finally:
        consumer.close()
    return {name: sum(end for tp, end in ends.items() if tp.topic == name) for name in sorted(names)}


def latency(pipe: Pipeline, texts: dict[str, list[str]], rate: float, seconds: float) -> dict:
    """Publish at ``rate`` for ``seconds``; each post's publish time to when a search first returns it."""
    n = max(2, int(rate * seconds))
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    lock, done = threading.Lock(), threading.Event()

    def watch() -> None:
        while not done.is_set():
            with lock:
                waiting = [t for i, t in sent.items() if i not in seen]
            if waiting:
                since = datetime.fromtimestamp(min(waiting) - 0.002, timezone.utc).isoformat()
                hits = pipe.es.search(index=pipe.settings.posts_alias, query={"range": {"fetched_at": {"gte": since}}},
                                      size=10_000, source=False, track_total_hits=False)["hits"]["hits"]  # fmt: skip
                now = time.time()
                with lock:
                    for hit in hits:
                        if hit["_id"] in sent and hit["_id"] not in seen:
                            seen[hit["_id"]] = now
            time.sleep(POLL_S)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    producer, raw = make_producer(pipe.settings), pipe.settings.topic(topics.POSTS_RAW)
    began = time.monotonic()
    try:
        for i, post in enumerate(
            tqdm(pipe.new_posts(texts, n, "lat"), total=n, desc=f"at {rate:.0f}/s", leave=False, mininterval=1)
        ):
            time.sleep(max(0.0, began + i / rate - time.monotonic()))
            now = time.time()
            post = post.model_copy(update={"fetched_at": datetime.fromtimestamp(now, timezone.utc)})
            with lock:
                sent[post.id] = now
            producer.send(raw, key=post.id.encode(), value=post.model_dump_json().encode())
            pipe.published += 1
        producer.flush()
        last, moved = 0, time.monotonic()
        while len(seen) < n and time.monotonic() - moved < 60:  # the stragglers, while they keep coming
            time.sleep(POLL_S)
            if len(seen) != last:
                last, moved = len(seen), time.monotonic()
            pipe.check_alive()
    finally:
        done.set()
        watcher.join()
        producer.close()
    ms = sorted((seen[i] - sent[i]) * 1000 for i in seen)
    cuts = statistics.quantiles(ms, n=100) if len(ms) >= 2 else [float("nan")] * 99
    return {"rate": rate, "posts": n, "seen": len(ms), "p50_ms": cuts[49], "p95_ms": cuts[94],
            "max_ms": ms[-1] if ms else float("nan"), "poll_s": POLL_S}  # fmt: skip


def with_state(pipe: Pipeline, texts: dict[str, list[str]], m: int) -> dict:
    """M more posts through the same worker; its RSS at each tenth of them, the posts/s and where the CPU went."""
    pid, start = pipe.procs["worker"].pid, pipe.count()
    samples = [(0, rss_mib(pid))]

    def sample(count: int) -> None:  # once per tenth of the run (a poll may cross several)
        if (count - start) // max(1, m // 10) > samples[-1][0] // max(1, m // 10):
            samples.append((count - start, rss_mib(pid)))

    publisher = threading.Thread(target=pipe.publish, args=(pipe.new_posts(texts, m, "state"),), daemon=True)
    cpu_began = pipe.usage()
    began = time.monotonic()
    publisher.start()
    ended = pipe.wait_count(start + m, f"{m} posts of state", on_poll=sample)
    publisher.join()
    return {
        "posts": m,
        "posts_per_s": m / (ended - began),
        **cpu_use(pipe, cpu_began, m, ended - began),
        "rss_mib": samples,
    }


def recovery(pipe: Pipeline, texts: dict[str, list[str]]) -> dict:
    """SIGKILL the worker, start another on its port, and time it back to work."""
    target = pipe.count() + 1
    killed = time.monotonic()
    pipe.kill("worker")
    pipe.publish(pipe.new_posts(texts, 1, "marker"))
    while not port_free(pipe.ports["worker"]):
        time.sleep(0.1)
    pipe.start("worker")
    pipe.wait_assigned(["worker"])
    assigned = time.monotonic()
    searchable = pipe.wait_count(target, "marker after the kill")
    return {"to_assignment_s": assigned - killed, "to_marker_searchable_s": searchable - killed}


# --- the run -------------------------------------------------------------------------------


def stack_down(settings: Settings) -> list[str]:
    """The servers of the stack that do not answer their health check at the settings' addresses."""
    from canyu_cli.stack.servers import servers

    return [f"{s.name} at {s.address}" for s in servers(settings) if s.check_health() is None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000, help="posts for the classifier, e2e and scaling")
    parser.add_argument("--state-posts", type=int, default=100_000, help="posts of the longer run (state)")
    parser.add_argument("--latency-s", type=float, default=30, help="seconds of steady publishing")
    parser.add_argument("--latency-rate", type=float, help="posts/s for latency; default: half the e2e rate")
    parser.add_argument("--skip", default="", help=f"comma-separated sections: {','.join(SECTIONS)}")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    # Right after `canyu stack up` the same run cost Elasticsearch and Kafka two to four times
    # the CPU per post that it did minutes later (docs/performance.md): their JVMs compile the
    # code of each request, and the sink's requests are few (one per 30 to 60 posts).
    parser.add_argument(
        "--warm-up-posts", type=int, default=5_000, help="posts per warm-up round, before each pipeline's clock"
    )
    parser.add_argument("--signals-posts", type=int, default=10_000, help="posts timed in the signals section")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(SECTIONS):
        parser.error(f"unknown sections {sorted(skip - set(SECTIONS))}; known: {','.join(SECTIONS)}")
    run = [s for s in SECTIONS if s not in skip]

    settings = Settings()
    down = stack_down(settings) if set(run) - {"classifier"} else None
    if down:
        print(
            f"not healthy: {', '.join(down)}\nStart the stack first, with the same CANYU_* environment: canyu stack up"
        )
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM):  # `kill`, and Ctrl-C even in the background, clean up
        signal.signal(sig, signal.default_int_handler)
    texts, origin = read_texts(args.data)
    records = [(p.id.encode(), p.model_dump_json().encode()) for p in make_posts(texts, args.posts, "e2e")]
    logs = Path(tempfile.mkdtemp(prefix="canyu-bench-"))
    print(f"posts from {origin}; classifier {settings.classifier}, batch {settings.batch_size}, "
          f"classifier_threads {settings.classifier_threads}; logs in {logs}")  # fmt: skip
    out: dict = {"posts": args.posts, "state_posts": args.state_posts, "corpus": origin,
                 "classifier": settings.classifier, "batch_size": settings.batch_size,
                 "classifier_threads": settings.classifier_threads}  # fmt: skip
    pipes: list[Pipeline] = []

    def pipeline(workers: int = 1, **overrides: object) -> Pipeline:
        pipe = Pipeline(settings, logs, len(records), **overrides)
        pipes.append(pipe)
        pipe.init()
        pipe.start("sink")
        names = ["worker"] if workers == 1 else [f"worker{i + 1}" for i in range(workers)]
        for name in names:
            pipe.start("worker", name)
        pipe.warm_up(names, texts, args.warm_up_posts)
        return pipe

    try:
        alone_texts = [json.loads(v)["text"] for _, v in records]
        if "classifier" in run:
            out["classifier_alone"] = classifier_alone(settings, alone_texts)
        if "signals" in run:
            out["signals"] = signals_bench.run(texts, args.signals_posts, args.state_posts)
        if set(run) & {"e2e", "changelog", "latency", "state", "recovery"}:
            pipe = pipeline()
            if "e2e" in run:
                out["e2e"] = end_to_end(pipe, records, f"e2e {args.posts} posts")
                out["e2e"]["worker_rss_mib"] = rss_mib(pipe.procs["worker"].pid)
                if "classifier" in run:  # again, so that a machine that changed speed meanwhile shows
                    out["classifier_alone_after_e2e"] = classifier_alone(settings, alone_texts)
            if "changelog" in run:
                tables = changelog_records(pipe.settings)
                out["changelog"] = {"per_post": sum(tables.values()) / pipe.published, "posts": pipe.published,
                                    "tables": {t.removeprefix(f"{pipe.settings.worker_app_id}-"): n
                                               for t, n in tables.items()}}  # fmt: skip
            rate = args.latency_rate or (out["e2e"]["posts_per_s"] / 2 if "e2e" in out else None)
            if "latency" in run and rate:
                out["latency"] = latency(pipe, texts, rate, args.latency_s)
            elif "latency" in run:
                print("latency: skipped, it needs the e2e rate or --latency-rate")
            if "state" in run:
                out["state"] = with_state(pipe, texts, args.state_posts)
            if "recovery" in run:
                out["recovery"] = {"state_posts": pipe.published, **recovery(pipe, texts)}
            pipe.stop()
            pipe.forget()
            pipes.remove(pipe)
        if "scaling" in run:
            for workers in (1, 2):
                pipe = pipeline(workers, topic_partitions=4)
                out[f"scaling_{workers}"] = end_to_end(pipe, records, f"{workers} worker(s), 4 partitions")
                pipe.stop()
                pipe.forget()
                pipes.remove(pipe)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up")
        return 130
    finally:
        for pipe in pipes:
            pipe.stop()
            pipe.forget()
    if args.json:  # first: the figures are kept even if the report below fails
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    report(out)
    return 0


def per_process(ms: dict[str, float]) -> str:
    """Milliseconds per post, in all and by process, largest first."""
    shares = sorted(ms.items(), key=lambda kv: -kv[1])
    return f"{sum(ms.values()):.2f} ms ({', '.join(f'{name} {each:.2f}' for name, each in shares)})"


def cpu_shares(section: dict) -> str:
    """Where a run's CPU went, per post and by process."""
    return f"{per_process(section['cpu_ms_per_post'])}, {section['cores_busy']:.2f} cores busy"


def report(out: dict) -> None:
    rows: list[tuple[str, str]] = []
    alone = [out[k] for k in ("classifier_alone", "classifier_alone_after_e2e") if k in out]
    base = statistics.mean(a["posts_per_s"] for a in alone) if alone else None

    def ratio(rate: float) -> str:
        return f"  ({rate / base:.2f}x the classifier alone)" if base else ""

    for when, section in zip(("first", "after e2e"), alone, strict=False):
        what = f"{section['classifier']}; threads: {section['threads']}"
        rows.append((f"classifier alone, {when}", f"{section['posts_per_s']:.1f} posts/s ({what})"))
        rows.append((f"CPU per post, classifier alone, {when}", cpu_shares(section)))
    if len(alone) > 1:
        rows.append(("classifier alone, the baseline", f"{base:.1f} posts/s: the mean of the two"))
    if "e2e" in out:
        e = out["e2e"]
        rows.append(
            ("e2e, 1 worker: publish to searchable", f"{e['posts_per_s']:.1f} posts/s{ratio(e['posts_per_s'])}")
        )
        rows.append(("CPU per post, e2e", cpu_shares(e)))
        rows.append(("waiting for a core per post, e2e", per_process(e["wait_ms_per_post"])))
        rounds = [f"{sum(r.values()):.2f} (elasticsearch {r.get('elasticsearch', 0):.2f})" for r in e["warm_up_ms"]]
        rows.append(("CPU per post, warm-up rounds", ", ".join(rounds)))
        rows.append(("worker RSS after e2e", f"{e['worker_rss_mib']:.0f} MiB"))
    if "changelog" in out:
        c = out["changelog"]
        top = ", ".join(f"{t} {n}" for t, n in sorted(c["tables"].items(), key=lambda kv: -kv[1])[:4])
        rows.append(("changelog records per post", f"{c['per_post']:.2f} over {c['posts']} posts ({top})"))
    if "latency" in out:
        lat = out["latency"]
        figures = f"p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, max {lat['max_ms']:.0f} ms"
        seen = f"{lat['seen']}/{lat['posts']} seen, poll {lat['poll_s']} s"
        rows.append((f"latency at {lat['rate']:.1f} posts/s", f"{figures} ({seen})"))
    if "state" in out:
        s = out["state"]
        rows.append((f"{s['posts']} more posts (state)", f"{s['posts_per_s']:.1f} posts/s{ratio(s['posts_per_s'])}"))
        rows.append(("CPU per post, state", cpu_shares(s)))
        rows.append(("worker RSS during them", " ".join(f"{n}:{mib:.0f}" for n, mib in s["rss_mib"]) + " (posts:MiB)"))
    if "recovery" in out:
        r = out["recovery"]
        rows.append(
            (
                f"recovery after SIGKILL ({r['state_posts']} posts)",
                f"assigned {r['to_assignment_s']:.1f} s, marker searchable {r['to_marker_searchable_s']:.1f} s",
            )
        )
    if "scaling_1" in out and "scaling_2" in out:
        one, two = out["scaling_1"]["posts_per_s"], out["scaling_2"]["posts_per_s"]
        rows.append(("scaling, 4 partitions", f"1 worker {one:.1f}, 2 workers {two:.1f} posts/s ({two / one:.2f}x)"))
        rows.append(("CPU per post, 1 worker", cpu_shares(out["scaling_1"])))
        rows.append(("CPU per post, 2 workers", cpu_shares(out["scaling_2"])))
    if "signals" in out:
        sig = out["signals"]
        rows.append(("signals step alone, empty state", f"{sig['empty_posts_per_s']} posts/s"))
        rows.append((f"signals step after {sig['state_posts']} posts", f"{sig['state_posts_per_s']} posts/s "
                     f"({sig['slowdown']:+.1%} slower); in-memory rebuild {sig['rebuild_in_memory_s']} s"))  # fmt: skip
        rows.append(("table writes per post (signals alone)", f"{sig['table_writes_per_post_state']}"))
    print(f"\n{out['posts']} posts from {out['corpus']}; classifier {out['classifier']}, batch {out['batch_size']}, "
          f"classifier_threads {out['classifier_threads']}")  # fmt: skip
    width = max((len(k) for k, _ in rows), default=0)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
