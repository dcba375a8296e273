"""What every long-running service sets up first: its log format, and stopping cleanly on a signal."""

from __future__ import annotations

import logging
import signal
import threading

LOG_FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)


def stop_on_signals() -> threading.Event:
    """An event that SIGINT and SIGTERM set, for loops that finish their step and then stop."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
