"""One namespace of the bench (``bench-<random>.``): its topics, indices, groups and processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
from kafka import TopicPartition
from tqdm import tqdm

from bench.corpus import make_posts
from bench.pipeline.processes import Usage, family, usage
from canyu import topics
from canyu.schema import Post
from canyu.settings import Settings
from canyu_runtime.elastic import client
from canyu_runtime.kafka_clients import make_admin, make_consumer, make_producer

STALL_S = 180  # a wait fails when the count has not moved for this long: worth a look at the logs
POLL_S = 0.2


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


class Pipeline:
    """A namespace of its own (``bench-<random>.``) with its ``canyu worker``s and ``canyu sink``."""

    def __init__(self, base: Settings, logs: Path, first_post: int, **settings: object):
        """``first_post``: where in ``bench.corpus``'s sequence the posts this pipeline makes
        begin (the ones before it are the e2e section's)."""
        namespace = f"bench-{uuid.uuid4().hex[:8]}."
        self.settings = base.replace(namespace=namespace, **settings)
        self.env = {**os.environ, **self.settings.environment()}
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
        wanted = {(raw, p) for p in range(self.settings.kafka.topic_partitions)}
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

    def processes(self) -> dict[str, list[psutil.Process]]:
        """The processes at work, by name: this namespace's, the stack's servers (when they run
        on this machine, from their pid files, with their descendants) and this one, "bench"
        (the publisher and the polls; the workers and the sink it started count under their own
        names). A worker's children are named apart, "<name>'s children": its classifier
        process (and multiprocessing's resource tracker, which idles), whose CPU per post times
        the rate says how busy it was, so whether it was the bottleneck."""
        from canyu_cli.stack.servers import servers

        found = {}
        for name, proc in self.procs.items():
            own, *children = family(proc.pid) or [None]
            found[name] = [own] if own else []
            if children:
                found[f"{name}'s children"] = children
        for server in servers(self.settings):
            if pid := server.pid():
                found[server.name] = family(pid)
        return {**found, "bench": [psutil.Process()]}

    def usage(self) -> dict[str, Usage]:
        """What each of the :meth:`processes` has used so far."""
        return {name: usage(processes) for name, processes in self.processes().items()}

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
        self._forget_kafka()
        ns = self.settings.namespace
        for template in self.es.indices.get_index_template(name=f"{ns}*").get("index_templates", []):
            self.es.indices.delete_index_template(name=template["name"])
        if self.es.cluster.exists_component_template(name=f"{ns}*"):
            self.es.cluster.delete_component_template(name=f"{ns}*")
        self.es.indices.delete(index=f"{ns}*", allow_no_indices=True, expand_wildcards="all")
        for folder in ("faust", "run"):
            for path in (self.settings.home / folder).glob(f"{ns}*"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.es.close()

    def _forget_kafka(self) -> None:
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
