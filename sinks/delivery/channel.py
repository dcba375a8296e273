"""What every channel shares: the small base :class:`Sender`, and the alert as a person reads it.

A channel type (``Channel.type``: webhook, slack, email, kafka) is one subclass of
:class:`Sender`. It says how one notification goes out, which endpoint its target belongs to
(the scheduler serves one endpoint's notifications one after another) and how logs and dead
letters may show the target.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from canyu.schema import Notification
from canyu.settings import Settings


class Sender(ABC):
    """Sends notifications over one type of channel. Made for each notification, on the settings of the moment."""

    kind: ClassVar[str]  # the Channel.type it serves

    def __init__(self, settings: Settings):
        self.settings = settings

    @classmethod
    def endpoint(cls, target: str) -> str:
        """What a dead receiver takes down with it; by default the whole channel type (one SMTP server, one Kafka
        cluster)."""
        return cls.kind

    @classmethod
    def shown(cls, target: str) -> str:
        """The target as logs and dead letters may show it."""
        return target

    @abstractmethod
    def send(self, notice: Notification, deadline: float) -> None:
        """One try, over by ``deadline`` (``time.monotonic()``). Raises
        :class:`~canyu_runtime.outbound.Refused` when no try can succeed, any other error for a failure
        that a later try may get past."""


def summary(notice: Notification) -> str:
    """The alert in one line: Slack's text, the email's subject."""
    a = notice.alert
    what = ", ".join(f"{k} {v}" for k, v in a.dimensions.items())
    return (
        f"canyu {a.kind} alert: {what}: {a.observed:g} in {a.window_start:%Y-%m-%d %H:%M}–{a.window_end:%H:%M} UTC "
        f"(usually {a.baseline_mean:.1f} ± {a.baseline_std:.1f}, threshold {a.threshold:g})"
    )
