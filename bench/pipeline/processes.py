"""What a process and its descendants have used so far, read with psutil.

A server's recorded process may be a launcher (Elasticsearch's script starts a CLI JVM, which
starts the server JVM), and the worker classifies in a child process, so each figure covers a
process and its live descendants.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import psutil


class Usage(NamedTuple):
    cpu_s: float
    wait_s: float  # ready to run, waiting for a core: the cores were short


def family(pid: int) -> list[psutil.Process]:
    """A process and its live descendants; empty when it has ended."""
    try:
        process = psutil.Process(pid)
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_s(processes: list[psutil.Process]) -> float:
    """CPU seconds (user and system) that these processes have used so far."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # it ended meanwhile
            continue
        total += times.user + times.system
    return total


def wait_s(processes: list[psutil.Process]) -> float:
    """Seconds that the live threads of these processes have spent ready to run, waiting for a core.

    psutil has no figure for it: it is the second field of each thread's ``schedstat`` in /proc."""
    total = 0
    for process in processes:
        try:
            threads = process.threads()
        except psutil.NoSuchProcess:
            continue
        for thread in threads:
            try:
                fields = Path(f"/proc/{process.pid}/task/{thread.id}/schedstat").read_text().split()
            except OSError:  # the thread ended meanwhile, or this is no Linux
                continue
            total += int(fields[1]) if len(fields) > 1 else 0
    return total / 1e9


def usage(processes: list[psutil.Process]) -> Usage:
    return Usage(cpu_s(processes), wait_s(processes))


def rss_mib(pid: int) -> float:
    """The resident memory of a process and its live descendants."""
    total = 0
    for process in family(pid):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20
