"""Event-time windows: which windows a post belongs to, and whether it is too late for them.

Times are epoch seconds. A tumbling window is a hopping window whose step equals
its size. A post is late when the stream's watermark (the newest created_at seen)
has passed the end of its window by more than the grace period; late posts are
not counted, only reported.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Windowing:
    name: str  # "1m" or "1h": part of every table key
    size: int
    step: int
    grace: int

    def starts(self, t: float) -> list[int]:
        """Start of every window [start, start + size) that contains ``t``, oldest first."""
        latest = int(t // self.step) * self.step
        return [s for s in range(latest - self.size + self.step, latest + 1, self.step) if s <= t < s + self.size]

    def is_late(self, start: int, watermark: float) -> bool:
        return watermark > start + self.size + self.grace

    def trailing(self, t: float) -> int:
        """The start of the window that ends soonest after ``t``: the last ``size`` seconds up to t."""
        return self.starts(t)[0]


def tumbling(name: str, size: int, grace: int) -> Windowing:
    return Windowing(name, size, size, grace)


def hopping(name: str, size: int, step: int, grace: int) -> Windowing:
    if size % step:
        raise ValueError(f"window size {size}s must be a multiple of its step {step}s")
    return Windowing(name, size, step, grace)
