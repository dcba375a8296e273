"""The sample's release story: what people do in it, kept as data beside the posts (``canyu/sample/``).

- ``releases.jsonl``: the releases a team registered, one ``Release`` a line. Others the worker
  finds in the posts themselves (seen in posts).
- ``item-changes.jsonl``: what engineers say about feedback items, in order. Item ids are the
  worker's, made as it groups the posts, so each change names a post of the item instead.

``canyu up`` registers the releases before the replay, so the worker judges the posts against
them as they come; once every post is indexed, it applies the changes through the one function
the CLI and the dashboard use (``canyu_runtime.items.change_item``), then waits until the
dashboard shows what came of them: the releases' impacts, and each fix verified or not held
(docs/releases.md walks through it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from elasticsearch import Elasticsearch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from canyu.schema import VERSION_PATTERN, ItemChange, ItemLifecycle, Release
from canyu.settings import Settings
from canyu_runtime.reasons import reason_of

BY = "canyu up"  # who made the story's changes, in the items' history
# What the worker says of a fix once the release it ships in is out and the item was watched.
JUDGED = ("verified", "fix_failed")
POLL_S = 1.0
SAID = {"fix_failed": "the fix did not hold"}  # how the closing lines put a status
TITLE_CHARS = 48


def sample_folder() -> Path:
    return Path(str(resources.files("canyu") / "sample"))


class StoryChange(BaseModel):
    """One line of ``item-changes.jsonl``: a change to the item that ``post`` joined."""

    model_config = ConfigDict(extra="forbid")

    post: str = Field(description="a sample post's id; the change goes to the feedback item it joined")
    action: Literal["ack", "fix", "reopen", "wontfix"]
    version: str | None = Field(default=None, pattern=VERSION_PATTERN)
    note: str | None = None

    def change(self) -> ItemChange:
        return ItemChange(action=self.action, version=self.version, note=self.note, by=BY)

    def done_in(self, history: list[ItemChange]) -> bool:
        """Whether an earlier ``canyu up`` made this change already (the story is told once per home)."""
        return any((c.action, c.version, c.note, c.by) == (self.action, self.version, self.note, BY) for c in history)


@dataclass(frozen=True)
class Story:
    releases: list[Release]
    changes: list[StoryChange]

    @classmethod
    def load(cls, folder: Path | None = None) -> Story:
        """The story in ``folder`` (default: the built-in sample's); a bad line stops it, named."""
        folder = folder or sample_folder()
        return cls(_lines(folder / "releases.jsonl", Release), _lines(folder / "item-changes.jsonl", StoryChange))

    def fix_versions(self) -> list[str]:
        return list(dict.fromkeys(c.version for c in self.changes if c.action == "fix" and c.version))


def _lines(path: Path, model: type[BaseModel]) -> list:
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(model.model_validate_json(line))
        except ValidationError as e:
            raise ValueError(f"{path}:{n}: {reason_of(e)}") from None
    return records


def register_releases(settings: Settings, story: Story) -> None:
    """Put the story's releases on the releases topic, unless the same release is there already."""
    from canyu_runtime.registry import releases

    registry = releases(settings)
    current = registry.current()
    for release in story.releases:
        known = current.get(release.key)
        if known is None or known.model_dump(exclude={"created_at"}) != release.model_dump(exclude={"created_at"}):
            registry.put(release)


@dataclass
class Told:
    """The items the story changed, with the statuses the dashboard may show for each once the worker applied it."""

    expected: dict[str, tuple[str, ...]]  # item id → statuses the dashboard may show once the worker applied it
    posts: dict[str, str]  # item id → the story's post that named it


def apply_changes(settings: Settings, story: Story, es: Elasticsearch, deadline: float,
                  step: Callable[[], None]) -> Told:  # fmt: skip
    """Apply each change to the item its post joined, in order; ``step`` is called after each."""
    from canyu_runtime.items import UnknownItem, change_item
    from canyu_runtime.registry import item_lifecycles
    from canyu_runtime.retry import NotReady, wait_until

    lifecycles = item_lifecycles(settings)
    told = Told({}, {})
    for change in story.changes:
        item_id = _item_of(es, settings, change.post)
        lifecycle = lifecycles.get(item_id)

        def made(item_id=item_id, change=change) -> ItemLifecycle:
            try:
                return change_item(settings, item_id, change.change(), es)
            except UnknownItem as e:  # its post is indexed; the item itself may come a moment later
                raise NotReady(str(e)) from None
            except ValueError as e:  # a change the item's state does not allow, or a closed item
                raise RuntimeError(f"the sample's {change.action} of {item_id} (post {change.post}): {e}") from None

        if lifecycle is None or not change.done_in(lifecycle.history):
            try:
                what = f"feedback item {item_id} of sample post {change.post} indexed"
                lifecycle = wait_until(made, timeout_s=max(0.0, deadline - time.monotonic()), every_s=POLL_S, what=what)
            except NotReady as e:
                raise RuntimeError(str(e)) from None
        told.posts[item_id] = change.post
        told.expected[item_id] = JUDGED if lifecycle.state == "fixed" else (lifecycle.state,)
        step()
    return told


def _item_of(es: Elasticsearch, settings: Settings, post_id: str) -> str:
    found = es.search(index=settings.posts_alias, query={"ids": {"values": [post_id]}}, source=["item_id"])
    hits = found["hits"]["hits"]
    if not hits:
        raise RuntimeError(f"sample post {post_id} (named in item-changes.jsonl) is not indexed")
    item_id = hits[0]["_source"].get("item_id")
    if not item_id:
        raise RuntimeError(f"sample post {post_id} (named in item-changes.jsonl) joined no feedback item")
    return item_id


def not_shown(settings: Settings, story: Story, told: Told, es: Elasticsearch) -> tuple[list[str], dict[str, dict]]:
    """What the dashboard does not show yet (a release's impact, an item's status), and each item (status, title)."""
    es.indices.refresh(index=[settings.releases_alias, settings.feedback_alias])
    impacts = [h["_source"] for h in es.search(index=settings.releases_alias, size=1000,
                                                source=["product", "version"])["hits"]["hits"]]  # fmt: skip
    missing = [f"the impact of {r.product} {r.version}" for r in story.releases
               if not any((i["product"], i["version"]) == (r.product, r.version) for i in impacts)]  # fmt: skip
    missing += [f"the release of {v} (registered or seen in posts) and its impact" for v in story.fix_versions()
                if not any(i["version"] == v for i in impacts)]  # fmt: skip
    found = es.search(index=settings.feedback_alias, query={"ids": {"values": list(told.expected)}},
                      size=len(told.expected), source=["status", "title"])["hits"]["hits"]  # fmt: skip
    by_id = {h["_id"]: h["_source"] for h in found}
    items = {item_id: by_id[item_id] for item_id in told.expected if item_id in by_id}  # in the story's order
    status = {item_id: item.get("status") for item_id, item in items.items()}
    missing += [f"item {item_id} (post {told.posts[item_id]}) is {status.get(item_id)!r}, not {' or '.join(want)}"
                for item_id, want in told.expected.items() if status.get(item_id) not in want]  # fmt: skip
    return missing, items


def summary(settings: Settings, items: dict[str, dict]) -> list[str]:
    """A few lines on what the story came to: the releases, registered or seen, and what became of each change."""
    from canyu_runtime.registry import releases

    known = sorted(releases(settings).current().values(), key=lambda r: (r.date, r.product, r.version))
    shown = ", ".join(f"{r.product} {r.version} ({'seen in posts' if r.source == 'seen' else 'registered'})"
                      for r in known)  # fmt: skip
    lines = [f"Releases: {shown}."]
    for item_id, item in items.items():
        title = " ".join(item["title"].split())
        title = title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"
        lines.append(f"{item_id} ({title}): {SAID.get(item['status'], item['status'])}")
    return lines
