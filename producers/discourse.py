"""Discourse forums, ``mode: posts`` (the default): ``/posts.json`` lists the latest posts, newest first.

It pages back with ``before=<id>``. ``mode: topics`` reads the forum topic by topic instead
(``/latest.json``, then ``/t/{id}.json`` of each topic that changed): see ``discourse_topics``.
What both modes share (settings, token headers, the mapping of a post) is in ``discourse_common``.
"""

from __future__ import annotations

from producers.base import PagedSource
from producers.discourse_common import DiscourseForum, posts_in


class DiscourseSource(DiscourseForum, PagedSource):
    def request(self, token: str | None, high: str | None) -> bytes | None:
        return self.get_page(f"{self.base_url}/posts.json", {"before": token}, token)

    def items(self, body: bytes) -> tuple[list[dict], str | None]:
        posts = posts_in(body)
        ids = [key for key in map(self._order_or_none, posts) if key is not None]
        return posts, (str(min(ids)) if ids else None)

    def order(self, item: dict) -> int:
        return int(item["id"])
