"""Start, check and stop the local Kafka broker and Elasticsearch node by PID.

Each server lives in ``<home>/stack/<name>/`` with its data, logs, generated
config and a pid file. ``up`` is idempotent: a server whose recorded process is
alive is never started twice.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import uuid
import zipfile
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import httpx

from canyu.settings import Settings
from canyu_cli.stack.artifacts import ServerPin, fetch_all, load_pins
from canyu_cli.stack.java import find_java
from canyu_runtime.private import open_private, write_private
from canyu_runtime.retry import NotReady, wait_until


class StackError(RuntimeError):
    pass


@dataclass
class Status:
    name: str
    version: str
    pid: int | None
    healthy: bool
    address: str
    detail: str = ""


def _host_port(address: str) -> tuple[str, int]:
    parsed = httpx.URL(address if "//" in address else f"//{address}")
    return parsed.host or "127.0.0.1", parsed.port or 0


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def _start_time(pid: int) -> str | None:
    """The kernel's start tick of a process, so a reused PID is not mistaken for ours."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def tail(path: Path, lines: int) -> str:
    if not path.exists():
        return ""
    with path.open(errors="replace") as f:
        return "".join(deque(f, maxlen=lines))


def cluster_id() -> str:
    """A random KRaft cluster id, as Kafka makes them: never starting with "-", which the
    storage tool would read as an option."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


class Server(ABC):
    name: str
    start_timeout_s: float

    def __init__(self, settings: Settings, pin: ServerPin, repository: str):
        self.settings = settings
        self.pin = pin
        self.repository = repository
        self.dir = settings.home / "stack" / self.name
        self.cache = settings.cache_dir
        self.pid_file = self.dir / "pid"
        self.log_file = self.dir / "logs" / "server.out"

    @property
    @abstractmethod
    def address(self) -> str: ...

    @abstractmethod
    def check_health(self) -> str | None:
        """A one-line description when healthy, None otherwise. Must be quick."""

    @abstractmethod
    def prepare(self, java: Path) -> tuple[list[str], dict[str, str]]:
        """Install and configure; return the command and extra environment that start the server."""

    def pid(self) -> int | None:
        try:
            pid_text, started = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if _start_time(pid) is None and not Path("/proc").is_dir():
            try:
                os.kill(pid, 0)
                return pid
            except OSError:
                return None
        return pid if _start_time(pid) == started else None

    def status(self) -> Status:
        pid = self.pid()
        detail = self.check_health() if pid else None
        return Status(self.name, self.pin.version, pid, detail is not None, self.address, detail or "")

    def up(self) -> Status:
        if self.pid() is None:
            host, port = _host_port(self.address)
            if _port_open(host, port):
                raise StackError(
                    f"{self.name}: {host}:{port} is already in use by a process canyu did not start; "
                    "stop it or change the address in settings"
                )
            self._start()
        return self._wait_healthy()

    def _start(self) -> None:
        java = find_java(self.pin.java, f"{self.name} {self.pin.version}")
        command, env = self.prepare(java)
        with open_private(self.log_file) as log:
            proc = subprocess.Popen(
                command,
                cwd=self.dir,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `down` stops the whole tree
            )
        write_private(self.pid_file, f"{proc.pid} {_start_time(proc.pid) or 0}\n".encode())

    def _wait_healthy(self) -> Status:
        def healthy() -> Status:
            if self.pid() is None:
                raise StackError(f"{self.name} exited during start-up; last log lines:\n{tail(self.log_file, 30)}")
            status = self.status()
            if not status.healthy:
                raise NotReady("its health check does not pass yet")
            return status

        try:
            return wait_until(healthy, timeout_s=self.start_timeout_s, what=f"{self.name} starting")
        except NotReady:
            raise StackError(
                f"{self.name} did not become healthy within {self.start_timeout_s:.0f}s; "
                f"see {self.log_file}:\n{tail(self.log_file, 30)}"
            ) from None

    def down(self, timeout_s: float = 60) -> bool:
        """Stop the server's process group; True when something was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False

        def gone() -> None:
            if self._group_alive(pid):
                raise NotReady("its processes still run")

        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            try:
                wait_until(gone, timeout_s=wait_s, what=f"{self.name} stopping", every_s=0.2)
                break
            except NotReady:
                continue  # still running: the next, stronger signal
        self.pid_file.unlink(missing_ok=True)
        return True

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        # A zombie leader counts as gone: it is ours and only waits to be reaped.
        try:
            os.waitpid(pgid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False


class Kafka(Server):
    name = "kafka"
    start_timeout_s = 90

    @property
    def address(self) -> str:
        return self.settings.kafka.bootstrap

    def check_health(self) -> str | None:
        host, port = _host_port(self.address)
        if not _port_open(host, port):
            return None
        from kafka.errors import KafkaError

        from canyu_runtime.kafka_clients import make_admin

        try:
            admin = make_admin(self.settings, client_id="canyu-stack", request_timeout_ms=5000)
        except KafkaError:
            return None
        try:
            cluster = admin.describe_cluster()
        except KafkaError:
            return None
        finally:
            admin.close()
        brokers = cluster.get("brokers", [])
        return f"KRaft cluster {cluster.get('cluster_id')}, {len(brokers)} broker(s)" if brokers else None

    def prepare(self, java: Path) -> tuple[list[str], dict[str, str]]:
        jars = fetch_all(self.pin.artifacts, self.repository, self.cache, f"kafka {self.pin.version}")
        classpath = os.pathsep.join(str(j) for j in jars)
        data = self.dir / "data"
        config = self._write_config(data)
        if not (data / "meta.properties").exists():
            formatted = subprocess.run(
                [str(java), "-cp", classpath, "kafka.tools.StorageTool", "format",
                 "--cluster-id", cluster_id(), "-c", str(config)],
                capture_output=True, text=True,
            )  # fmt: skip
            if formatted.returncode != 0:
                raise StackError(f"kafka: formatting {data} failed:\n{formatted.stdout}{formatted.stderr}")
        log4j = self.dir / "log4j2.properties"
        log4j.write_text(
            "rootLogger.level = INFO\nrootLogger.appenderRef.out.ref = out\n"
            "appender.out.type = Console\nappender.out.name = out\n"
            "appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = [%d] %p %m (%c)%n\n"
        )
        command = [
            str(java), f"-Xmx{self.settings.kafka.heap}", f"-Xms{self.settings.kafka.heap}",
            *self.settings.kafka.jvm_options.split(),
            f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath, "kafka.Kafka", str(config),
        ]  # fmt: skip
        return command, {}

    def _write_config(self, data: Path) -> Path:
        host, port = _host_port(self.address)
        controller = f"{host}:{self.settings.kafka.controller_port}"
        data.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{controller}",
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": str(self.settings.kafka.topic_partitions),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # A single local node: no reason to hold the first consumer group back.
            "group.initial.rebalance.delay.ms": "0",
        }
        path = self.dir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path


class Elasticsearch(Server):
    name = "elasticsearch"
    start_timeout_s = 180

    @property
    def address(self) -> str:
        return self.settings.elasticsearch.url

    def check_health(self) -> str | None:
        from canyu_runtime.elastic import client, health

        with client(self.settings) as es:
            return health(es)

    def prepare(self, java: Path) -> tuple[list[str], dict[str, str]]:
        (archive,) = fetch_all(self.pin.artifacts, self.repository, self.cache, f"elasticsearch {self.pin.version}")
        home = self._unpack(archive)
        config = self.dir / "config"
        if not config.exists():
            shutil.copytree(home / "config", config)
        host, port = _host_port(self.address)
        (self.dir / "data").mkdir(exist_ok=True)
        (self.dir / "logs").mkdir(exist_ok=True)
        settings = {
            "cluster.name": "canyu-local",
            "node.name": "canyu-local-1",
            "discovery.type": "single-node",
            "network.host": host,
            "http.port": port,
            "transport.port": self.settings.elasticsearch.transport_port,
            "path.data": self.dir / "data",
            "path.logs": self.dir / "logs",
            # The integ-test distribution ships x-pack security; a loopback dev node needs none.
            "xpack.security.enabled": "false",
            # Developers' disks are often fuller than ES's production watermarks allow.
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "action.destructive_requires_name": "false",
        }
        (config / "elasticsearch.yml").write_text("".join(f"{k}: {v}\n" for k, v in settings.items()))
        es = self.settings.elasticsearch
        env = {
            "ES_JAVA_HOME": str(java.parent.parent),
            "ES_PATH_CONF": str(config),
            "ES_JAVA_OPTS": f"-Xms{es.heap} -Xmx{es.heap} {es.jvm_options}",
        }
        return [*self._unprivileged(), str(home / "bin" / "elasticsearch")], env

    def _unpack(self, archive: Path) -> Path:
        home = self.dir / "dist" / f"elasticsearch-{self.pin.version}"
        done = home / ".canyu-unpacked"
        if done.exists():
            return home
        shutil.rmtree(home, ignore_errors=True)
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                target = Path(z.extract(info, home.parent))
                mode = (info.external_attr >> 16) & 0o777
                if mode:  # zipfile drops permissions; the launch scripts need their exec bits
                    target.chmod(mode)
        done.touch()
        return home

    @staticmethod
    def _unprivileged() -> list[str]:
        """Elasticsearch refuses to run as root. For root, run it in a user namespace as uid 1000,
        which still owns root's files, so the data folder needs no chown and root can stop it."""
        if os.geteuid() != 0:
            return []
        unshare = shutil.which("unshare")
        probe = subprocess.run([unshare, "--user", "--map-user=1000", "true"], capture_output=True) if unshare else None
        if probe is None or probe.returncode != 0:
            raise StackError(
                "Elasticsearch refuses to run as root, and this machine does not allow user namespaces "
                "(util-linux `unshare --user`) to run it as another uid; run canyu as a normal user"
            )
        return [unshare, "--user", "--map-user=1000", "--map-group=1000"]


def servers(settings: Settings) -> list[Server]:
    repository, pins = load_pins()
    return [Kafka(settings, pins["kafka"], repository), Elasticsearch(settings, pins["elasticsearch"], repository)]
