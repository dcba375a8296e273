"""A source's cursor on disk: where to poll next, and the post ids it published lately.

The runner saves it only after Kafka acknowledged every record of a page, so a restart
starts at the first page that may not have been acknowledged. The recent ids catch the
records a source returns twice (an RSS feed on every poll, overlapping pages). The
file is replaced atomically: a crash leaves the old cursor or the new one, never half.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from canyu.settings import Settings
from canyu_runtime.files import write_json_atomically


def source_dir(settings: Settings, name: str) -> Path:
    # The namespace keeps the cursors of test runs (and of separate deployments) apart.
    return settings.home / "producers" / f"{settings.namespace}{name}"


@dataclass
class Cursor:
    position: dict = field(default_factory=dict)
    recent_ids: dict[str, None] = field(default_factory=dict)  # an ordered set: oldest first

    def seen(self, post_id: str) -> bool:
        return post_id in self.recent_ids

    def remember(self, post_id: str, limit: int) -> None:
        self.recent_ids[post_id] = None
        while len(self.recent_ids) > limit:
            del self.recent_ids[next(iter(self.recent_ids))]


class CursorStore:
    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def for_source(cls, settings: Settings, name: str) -> CursorStore:
        return cls(source_dir(settings, name) / "cursor.json")

    def load(self) -> Cursor:
        if not self.path.is_file():
            return Cursor()
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return Cursor(position=data["position"], recent_ids=dict.fromkeys(data["recent_ids"]))

    def save(self, cursor: Cursor) -> None:
        write_json_atomically(self.path, {"position": cursor.position, "recent_ids": list(cursor.recent_ids)})
