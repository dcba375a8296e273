"""The sane window for a post's date: not before ``date_floor``, not past ``fetched_at`` + ``date_future_margin_s``.

A date outside it (year 1, a clock gone wrong, a typo's 2999) must never move anything
that only goes forward: watermarks, expiry, cursors' high-water marks or index names.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from canyu.settings import Settings

_END_OF_TIME = datetime.max.replace(tzinfo=timezone.utc)


def in_window(created_at: datetime, fetched_at: datetime, settings: Settings) -> bool:
    """True when ``created_at`` is neither before the floor nor more than the margin after ``fetched_at``."""
    return settings.dates.floor <= created_at <= _latest(fetched_at, settings)


def out_of_window(
    created_at: datetime, fetched_at: datetime, settings: Settings, what: str = "created_at"
) -> str | None:
    """None when ``created_at`` is in the window, else the reason a dead letter carries."""
    if in_window(created_at, fetched_at, settings):
        return None
    window = settings.dates
    return (f"{what} {created_at.isoformat()} is outside the sane window: not before {window.floor.isoformat()},"
            f" at most {window.future_margin_s:g}s after {fetched_at.isoformat()}")  # fmt: skip


def _latest(fetched_at: datetime, settings: Settings) -> datetime:
    try:
        return fetched_at + timedelta(seconds=settings.dates.future_margin_s)
    except OverflowError:  # a fetched_at at the end of the calendar: nothing is later
        return _END_OF_TIME
