"""What both ways of reading a Discourse forum share: the settings, the token headers, and how a post maps.

``mode: posts`` (``discourse``) pages through ``/posts.json``; ``mode: topics``
(``discourse_topics``) reads the forum topic by topic. Either way a post is known by
``{topic_id}/{post_number}``, as in its permalink ``/t/{slug}/{topic_id}/{post_number}``:
so a reply names its parent (``reply_to_post_number``, or the topic's first post) without
another request. A saved ``/posts.json`` or ``/t/{id}.json`` reads the same in both modes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from canyu.schema import Author, Engagement, Post
from producers.base import BadPayload, IdMarkedConfig, Record, Source, iso_time, parse_json
from producers.html import html_text

LIKE_ACTION = 2  # the "like" entry of a post's actions_summary


class DiscourseConfig(IdMarkedConfig):
    kind: Literal["discourse"] = "discourse"
    max_id_ahead: int = Field(
        10_000_000,
        ge=1,
        description="a post id further ahead of the mark (on a first run, of the page's median) "
        "never becomes it: ten million posts, forum-wide, between two polls",
    )
    api_username: str | None = None  # sent as Api-Username with the key, for private categories
    mode: Literal["posts", "topics"] = Field(
        "posts", description="posts: /posts.json, forum-wide; topics: /latest.json, then /t/{id}.json of changed topics"
    )


def likes(post: dict) -> int | None:
    if "like_count" in post:
        return post["like_count"]
    for action in post.get("actions_summary") or []:
        if action.get("id") == LIKE_ACTION:
            return action.get("count")
    return None


def with_title(posts: list[dict], title: str | None) -> list[dict]:
    """A topic's posts do not repeat its title; it is the topic's."""
    return [{"topic_title": title, **post} for post in posts]


def posts_in(body: bytes) -> list[dict]:
    """The posts of a ``/posts.json`` page (``latest_posts``) or of a topic (``post_stream.posts``, with its title)."""
    data = parse_json(body)
    if isinstance(data, dict) and isinstance(data.get("latest_posts"), list):
        return data["latest_posts"]
    if isinstance(data, dict) and isinstance((data.get("post_stream") or {}).get("posts"), list):
        return with_title(data["post_stream"]["posts"], data.get("title"))
    raise BadPayload(body, "a Discourse response has 'latest_posts' or 'post_stream.posts'")


class DiscourseForum(Source):
    """A Discourse source, in either mode: how it authenticates, where it is, and how its posts map."""

    kind = "discourse"
    config: DiscourseConfig
    token_header = ("Api-Key", "{}")
    id_shape = (1, 2**53 - 1)  # post ids are JavaScript numbers in Discourse's own client: safe integers

    @property
    def base_url(self) -> str:
        return str(self.config.url).rstrip("/") if self.config.url else ""  # no URL: a saved file's links stay relative

    def auth_headers(self) -> dict[str, str]:
        headers = super().auth_headers()
        if self.config.api_username:
            headers["Api-Username"] = self.config.api_username
        return headers

    def records(self, body: bytes, content_type: str | None = None) -> list[Record]:
        return [Record.of(post) for post in posts_in(body)]

    def map_item(self, post: dict) -> Post:
        topic, number = int(post["topic_id"]), int(post["post_number"])
        parent = post.get("reply_to_post_number") or 1  # a post that answers no one answers the topic
        text = html_text(post["cooked"]) if post.get("cooked") is not None else post["raw"]
        path = post.get("post_url")
        if path is not None and not (isinstance(path, str) and path.startswith("/") and not path.startswith("//")):
            raise ValueError(f"post_url {path!r} is not a path on the forum")  # else it would change the link's host
        return Post(
            id=Post.make_id(self.name, f"{topic}/{number}"),
            source=self.name,
            url=f"{self.base_url}{path}" if path else None,
            title=post.get("topic_title"),
            text=text,
            created_at=iso_time(post["created_at"], "created_at"),
            author=Author(id=str(post.get("user_id", post["username"])), name=post["username"]),
            engagement=Engagement(likes=likes(post), comments=post.get("reply_count")),
            parent_id=Post.make_id(self.name, f"{topic}/{parent}") if number > 1 else None,
        )
