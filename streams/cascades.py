"""Word-of-mouth cascades: follow repost chains to their root and measure how far they spread.

Every post's place in a cascade is remembered (its root and depth), so a repost of
a repost finds the root in one lookup. Velocity is the number of reposts whose
created_at falls in the 10 minutes up to the newest repost (event time, so a
replay measures the same velocity as the live stream did).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from canyu.schema import Amplifier, Cascade, EnrichedPost

VELOCITY_WINDOW = timedelta(minutes=10)
TOP_AMPLIFIERS = 5
# A cascade's state is rewritten on every repost, so it is capped: past REPOSTERS distinct
# authors, reach adds the followers of every repost by an author it no longer lists (an
# estimate, high when the same authors repost again), and only the AMPLIFIERS authors with
# the most reposts are tracked.
REPOSTERS = 200
AMPLIFIERS = 50


@dataclass
class CascadeState:
    root_id: str
    root_author_id: str | None
    first_seen: str
    reposts: int = 0
    depth: int = 0
    reach: int = 0
    reposters: list[str] = field(default_factory=list)  # reach counts each author once
    amplifiers: dict[str, list[int]] = field(default_factory=dict)  # author → [followers, reposts]
    recent: list[str] = field(default_factory=list)  # created_at of reposts inside the velocity window
    last_repost_at: str | None = None

    def add_repost(self, post: EnrichedPost, depth: int) -> None:
        self.reposts += 1
        self.depth = max(self.depth, depth)
        author = post.author.id
        followers = post.author.followers or 0
        if author not in self.reposters:
            self.reach += followers
            if len(self.reposters) < REPOSTERS:
                self.reposters.append(author)
        entry = self.amplifiers.setdefault(author, [followers, 0])
        entry[1] += 1
        if len(self.amplifiers) > AMPLIFIERS:  # the newcomer, or one it ties with, makes room
            least = min((a for a in self.amplifiers if a != author), key=lambda a: self.amplifiers[a][1])
            del self.amplifiers[least]
        created = post.created_at
        newest = max([created, *(datetime.fromisoformat(t) for t in self.recent)])
        window_start = newest - VELOCITY_WINDOW
        self.recent = [t for t in [*self.recent, created.isoformat()] if datetime.fromisoformat(t) > window_start]
        self.last_repost_at = newest.isoformat()

    @property
    def velocity(self) -> int:
        return len(self.recent)

    def to_record(self) -> Cascade:
        top = sorted(self.amplifiers.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:TOP_AMPLIFIERS]
        return Cascade(
            root_id=self.root_id,
            root_author_id=self.root_author_id,
            reposts=self.reposts,
            depth=self.depth,
            reach=self.reach,
            velocity=self.velocity,
            top_amplifiers=[Amplifier(author_id=a, followers=f, reposts=n) for a, (f, n) in top],
            first_seen=self.first_seen,
            last_repost_at=self.last_repost_at,
        )


def place(post: EnrichedPost, parent: tuple[str, int] | None) -> tuple[str, int]:
    """(root id, depth) of a post, given its parent's (root id, depth) when we saw the parent.

    An original is its own root at depth 0. A repost of a post we never saw is treated
    as reposting a root we have not seen: its chain starts there.
    """
    if not post.repost_of:
        return post.id, 0
    if parent is None:
        return post.repost_of, 1
    root, depth = parent
    return root, depth + 1
