"""The spike rule: a window fires when its count exceeds mean + k·σ of the same key's
trailing windows of the same size, and reaches a minimum count.

Why this rule (see docs/spikes.md): it is explainable to the people who receive the
alert ("38 posts, usually 4 ± 2"), it needs only counts we already keep, and the
minimum count stops a quiet key (σ near 0) from firing on a handful of posts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Baseline:
    mean: float
    std: float
    windows: int


@dataclass(frozen=True)
class SpikeRule:
    k: float = 3.0
    min_count: int = 10
    min_history: int = 24  # baseline windows needed before the rule may fire at all
    cooldown_s: int = 6 * 3600

    def threshold(self, baseline: Baseline) -> float:
        # σ is floored at 1 post so that a perfectly flat history still needs a real jump.
        return max(float(self.min_count), baseline.mean + self.k * max(baseline.std, 1.0))

    def can_fire(self, observed: int, windows: int) -> bool:
        """Whether any baseline over ``windows`` windows could make ``observed`` fire: summing one costs reads."""
        return windows >= self.min_history and observed >= self.min_count

    def fires(self, observed: int, baseline: Baseline) -> bool:
        return self.can_fire(observed, baseline.windows) and observed >= self.threshold(baseline)

    def cooled_down(self, last_fired: float | None, now: float) -> bool:
        return last_fired is None or now - last_fired >= self.cooldown_s


def baseline(counts: Sequence[int]) -> Baseline:
    """Population mean and standard deviation of the trailing window counts (missing windows are 0)."""
    n = len(counts)
    if n == 0:
        return Baseline(0.0, 0.0, 0)
    mean = sum(counts) / n
    return Baseline(mean, math.sqrt(sum((c - mean) ** 2 for c in counts) / n), n)
