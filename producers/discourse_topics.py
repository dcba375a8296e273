"""Discourse, topic by topic (``mode: topics``): ``/latest.json`` says which topics moved, ``/t/{id}.json`` reads them.

``/latest.json`` lists topics by last activity (``bumped_at``, newest first, pinned topics on
top of the first page), paged with ``page=N``. A sweep reads it back to the topics bumped
before the previous sweep, then reads each topic whose ``bumped_at`` or ``posts_count``
changed: ``/t/{id}.json`` gives the first chunk of its posts, its title and the ids of all
its posts (``post_stream.stream``); the ids past the chunk come from
``/t/{id}/posts.json?post_ids[]=…``, a chunk at a time. Posts carry their topic's title.

The position, saved like a page's after each topic's posts are acknowledged:

- ``since``: the newest ``bumped_at`` of the last complete sweep. A topic bumped before it has
  nothing new, and the listing stops at the first such topic that is not pinned.
- ``topics``: per topic id, its ``bumped_at`` and ``posts_count`` when last read, and
  ``last_id``, the newest post id published from it; posts up to ``last_id`` are not read again.
- ``queue``: the changed topics this sweep has still to read; ``newest``: the next ``since``.

So a restart reads again the topic it stopped in, and nothing before it. The cursor forgets
topics that were not bumped for a whole sweep; when such a topic (or a topic never seen,
older than the first run's backfill) moves again, it publishes the posts created since
``since``: the older ones were published when they were new, or predate the backfill.
Only the tail of its stream is read, back to the first post older than that.
"""

from __future__ import annotations

import logging
from datetime import datetime

from canyu.dates import in_window
from canyu.schema import utcnow
from producers.base import BadPayload, Page, Record, in_id_shape, iso_time, parse_json, within_reach
from producers.discourse_common import DiscourseForum, with_title
from producers.http import FetchError

log = logging.getLogger(__name__)

CHUNK = 20  # post ids per /t/{id}/posts.json request, as many as Discourse's own client asks for
GONE = {403, 404, 410}  # a listed topic deleted, or moved where we may not read, before we read it


def created_before(post: dict, when: datetime) -> bool:
    try:
        return iso_time(post["created_at"], "created_at") < when
    except (KeyError, ValueError):
        return False  # a post without a readable date is kept: the runner dead-letters it


def changed(state: dict | None, topic: dict) -> bool:
    return state is None or (state["bumped_at"], state["posts_count"]) != (topic["bumped_at"], topic["posts_count"])


def listed_topics(body: bytes) -> tuple[list[dict], bool]:
    """A /latest.json page's topics, each with a readable id, bumped_at and posts_count, and whether more follow."""
    data = parse_json(body)
    topic_list = data.get("topic_list") if isinstance(data, dict) else None
    if not isinstance(topic_list, dict) or not isinstance(topic_list.get("topics"), list):
        raise BadPayload(body, "a Discourse topic list has 'topic_list.topics'")
    for topic in topic_list["topics"]:
        try:
            int(topic["id"]), int(topic["posts_count"]), iso_time(topic["bumped_at"], "bumped_at")
        except (KeyError, TypeError, ValueError) as e:
            raise BadPayload(body, f"a listed topic without a readable id, posts_count or bumped_at: {e}") from None
    return topic_list["topics"], bool(topic_list.get("more_topics_url"))


def stream_posts(body: bytes) -> dict:
    data = parse_json(body)
    if not isinstance(data, dict) or not isinstance((data.get("post_stream") or {}).get("posts"), list):
        raise BadPayload(body, "a Discourse topic has 'post_stream.posts'")
    return data


class DiscourseTopicsSource(DiscourseForum):
    """A Discourse forum in ``mode: topics``: each fetch lists the topics that moved, or reads the next of them."""

    def fetch(self, position: dict) -> Page:
        return self.read_topic(position) if position.get("queue") else self.list_topics(position)

    def list_topics(self, position: dict) -> Page:
        since = iso_time(position["since"], "since") if position.get("since") else None
        listed: dict[str, dict] = {}
        page = 0
        while True:
            # Only the first page can be "not modified"; a 304 there means no topic moved since the last sweep.
            response = self.http.get(f"{self.base_url}/latest.json", {"page": page or None}, conditional=not page)
            if response is None:
                return Page([], position)
            topics, more = listed_topics(response.content)
            for topic in topics:
                listed.setdefault(str(topic["id"]), topic)  # a topic bumped while we page shows twice: the first counts
            page += 1
            older = since is not None and any(
                not t.get("pinned") and iso_time(t["bumped_at"], "bumped_at") < since for t in topics
            )
            if older or not more or (since is None and page >= self.config.backfill_pages):
                break
        fresh = [t for t in listed.values() if since is None or iso_time(t["bumped_at"], "bumped_at") >= since]
        known = position.get("topics", {})
        queue = [[str(t["id"]), t["bumped_at"], t["posts_count"]] for t in fresh if changed(known.get(str(t["id"])), t)]
        now = utcnow()  # a bumped_at out of the sane window never becomes the next ``since``
        dated = [t["bumped_at"] for t in fresh if in_window(iso_time(t["bumped_at"], "bumped_at"), now, self.settings)]
        newest = max(dated, key=lambda b: iso_time(b, "bumped_at"), default=None)
        swept = {**position, "queue": queue, "newest": newest or position.get("since")}
        return Page([], swept, more=True) if queue else Page([], self.finish(swept))

    def finish(self, position: dict) -> dict:
        """The position after the sweep's last topic: forget the topics this sweep did not list."""
        since = iso_time(position["since"], "since") if position.get("since") else None
        topics = {
            topic_id: state
            for topic_id, state in position.get("topics", {}).items()
            if since is None or iso_time(state["bumped_at"], "bumped_at") >= since
        }
        return {"since": position.get("newest"), "topics": topics}

    def read_topic(self, position: dict) -> Page:
        (topic_id, bumped_at, posts_count), *rest = position["queue"]
        topics = dict(position.get("topics", {}))
        known = topics.get(topic_id)
        since = iso_time(position["since"], "since") if position.get("since") and known is None else None
        try:
            body = self.http.get(f"{self.base_url}/t/{topic_id}.json").content
        except FetchError as e:
            if e.status not in GONE:
                raise
            log.warning("%s: topic %s is gone since it was listed (%s); skipping it", self.name, topic_id, e)
            topics.pop(topic_id, None)
            records = []
        else:
            records, last_id = self.new_posts(topic_id, stream_posts(body), known, since)
            topics[topic_id] = {"bumped_at": bumped_at, "posts_count": posts_count, "last_id": last_id}
        after = {**position, "topics": topics, "queue": rest}
        return Page(records, after, more=True) if rest else Page(records, self.finish(after))

    def new_posts(self, topic_id: str, topic: dict, known: dict | None, since: datetime | None) -> tuple[list, int]:
        """The topic's posts past ``known['last_id']`` (or, for a topic the cursor does not know, since ``since``)."""
        chunk = topic["post_stream"]["posts"]
        stream = [i for i in topic["post_stream"].get("stream") or [] if isinstance(i, int)]
        last = known["last_id"] if known else None
        in_chunk = {post.get("id") for post in chunk}
        missing = [i for i in stream if i not in in_chunk and (last is None or i > last)]
        batches = [missing[i : i + CHUNK] for i in range(0, len(missing), CHUNK)]
        rest: list[dict] = []
        for batch in reversed(batches) if since else batches:
            response = self.http.get(f"{self.base_url}/t/{topic_id}/posts.json", {"post_ids[]": batch})
            posts = stream_posts(response.content)["post_stream"]["posts"]
            rest = [*posts, *rest] if since else [*rest, *posts]
            if since and any(created_before(post, since) for post in posts):
                break  # only the tail of an unknown topic can be new
        new = [
            post
            for post in [*chunk, *rest]
            if not (last is not None and isinstance(post.get("id"), int) and post["id"] <= last)
            and not (since and created_before(post, since))
        ]
        # The topic's mark moves only to an id that makes sense, as a paged source's does (producers.base.marks).
        ids = [i for i in [*stream, *(post.get("id") for post in chunk)] if isinstance(i, int)]
        sane = within_reach([i for i in ids if in_id_shape(i, self.id_shape)], last, self.config.max_id_ahead)
        newest = max([i for i in sane if i is not None], default=0)
        return [Record.of(post) for post in with_title(new, topic.get("title"))], max(newest, last or 0)
