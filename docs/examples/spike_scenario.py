"""Replay a small scenario through the real spike detector and show when it fires and when not.

Run: .venv/bin/python docs/examples/spike_scenario.py   (docs/spikes.md quotes its output)

Two keys over eight days. "battery" has a daily rhythm: 2 posts an hour at night, 6 by
day, so a busy afternoon is normal. "camera" is almost silent. On day 8 both get
unusual hours; the table shows which ones the detector calls a spike, and why.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from canyu.schema import EnrichedPost
from streams.signals import SignalConfig, Signals, Tables

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
VOCABULARY = [f"w{i}" for i in range(400)]
DAY8 = {  # hour of day 8 → (battery posts, camera posts)
    9: (7, 0),  # a busy but ordinary morning
    13: (9, 4),  # a little above normal; camera has a few posts
    14: (24, 12),  # the battery spike; camera jumps from nothing to 12
    15: (22, 0),  # still high, but inside the 6-hour cooldown
}


def post(n: int, at: datetime, topic: str) -> EnrichedPost:
    # Random words keep posts apart in SimHash: none of them is a near-duplicate.
    text = f"{topic} " + " ".join(random.Random(n).sample(VOCABULARY, 10))
    return EnrichedPost(
        id=f"demo:{n}", source="demo", text=text, language="en", created_at=at, author={"id": f"u{n % 97}"},
        sentiment={"label": "negative", "scores": {"negative": 1.0}},
        intent={"label": "complaint", "scores": {"complaint": 1.0}},
        topics=[{"id": topic, "score": 1.0}], classifier="demo",
    )  # fmt: skip


def hourly_posts() -> list[tuple[datetime, str]]:
    events = []
    for day in range(8):
        for hour in range(24):
            start = START + timedelta(days=day, hours=hour)
            battery, camera = DAY8.get(hour, (None, None)) if day == 7 else (None, None)
            if battery is None:
                battery, camera = (6 if 8 <= hour < 20 else 2), (1 if hour == 12 and day % 3 == 0 else 0)
            for topic, count in (("battery", battery), ("camera", camera)):
                events += [(start + timedelta(minutes=(i * 50) // max(count, 1) + 5), topic) for i in range(count)]
    return sorted(events)


def main() -> None:
    signals = Signals(Tables(), SignalConfig())
    rule = signals.config.spike
    print(f"rule: count >= max({rule.min_count}, mean + {rule.k:g}·max(σ, 1)); cooldown {rule.cooldown_s // 3600} h")
    print(f"{'day 8, hour up to':<18} {'key':<8} {'count':>5} {'mean':>5} {'σ':>5} {'threshold':>9}  result")
    alerts = []  # (day, hour, alert)
    events = hourly_posts()
    for n, (at, topic) in enumerate(events):
        p = post(n, at, topic)
        alerts += [(at.day, at.hour, a) for a in signals.process(p, n, signals.fingerprint_of(p)).alerts]
        hour_ends = n + 1 == len(events) or events[n + 1][0].hour != at.hour
        if at.day == 8 and at.hour in DAY8 and hour_ends:
            for key in ("battery", "camera"):
                name = f"topic={key}|sentiment=negative"
                _, count, base = signals.current_window(name, at.timestamp())
                fired = [a for day, hour, a in alerts if a.key == name and (day, hour) == (at.day, at.hour)]
                if fired:
                    result = "ALERT"
                elif rule.fires(count, base):
                    result = "over, but cooling down"
                else:
                    result = "no"
                print(f"{at:%H:%M}{'':<13} {key:<8} {count:>5} {base.mean:>5.2f} {base.std:>5.2f} "
                      f"{rule.threshold(base):>9.2f}  {result}")  # fmt: skip
    print(f"alerts fired in the whole replay: {len(alerts)}")


if __name__ == "__main__":
    main()
