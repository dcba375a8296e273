"""Discourse forums: ``/posts.json`` lists the latest posts, newest first, paged back with ``before=<id>``.

That is ``mode: posts``, the default. ``mode: topics`` reads the forum topic by topic instead
(``/latest.json``, then ``/t/{id}.json`` of each topic that changed: see ``discourse_topics``).

A saved ``/t/{id}.json`` (a topic's ``post_stream.posts``) reads the same way. A post is
known by ``{topic_id}/{post_number}``, as in its permalink ``/t/{slug}/{topic_id}/{post_number}``:
so a reply names its parent (``reply_to_post_number``, or the topic's first post) without
another request.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from canyu.schema import Author, Engagement, Post
from producers.base import BadPayload, Page, PagedSource, UrlSourceConfig, iso_time, parse_json
from producers.discourse_topics import TopicSweep, with_title
from producers.html import html_text

LIKE_ACTION = 2  # the "like" entry of a post's actions_summary


class DiscourseConfig(UrlSourceConfig):
    kind: Literal["discourse"] = "discourse"
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


class DiscourseSource(PagedSource):
    kind = "discourse"
    config: DiscourseConfig

    @property
    def base_url(self) -> str:
        return str(self.config.url).rstrip("/") if self.config.url else ""  # no URL: a saved file's links stay relative

    token_header = ("Api-Key", "{}")

    def auth_headers(self) -> dict[str, str]:
        headers = super().auth_headers()
        if self.config.api_username:
            headers["Api-Username"] = self.config.api_username
        return headers

    def fetch(self, position: dict) -> Page:
        if self.config.mode == "topics":
            return TopicSweep(self).fetch(position)
        return super().fetch(position)

    def request(self, token: str | None, high: str | None) -> bytes | None:
        return self.get_page(f"{self.base_url}/posts.json", {"before": token}, token)

    def items(self, body: bytes) -> tuple[list[dict], str | None]:
        data = parse_json(body)
        if isinstance(data, dict) and isinstance(data.get("latest_posts"), list):
            posts = data["latest_posts"]
        elif isinstance(data, dict) and isinstance((data.get("post_stream") or {}).get("posts"), list):
            posts = with_title(data["post_stream"]["posts"], data.get("title"))
        else:
            raise BadPayload(body, "a Discourse response has 'latest_posts' or 'post_stream.posts'")
        ids = [key for key in map(self._order_or_none, posts) if key is not None]
        return posts, (str(min(ids)) if ids else None)

    def order(self, item: dict) -> int:
        return int(item["id"])

    def map_item(self, post: dict) -> Post:
        topic, number = int(post["topic_id"]), int(post["post_number"])
        parent = post.get("reply_to_post_number") or 1  # a post that answers no one answers the topic
        text = html_text(post["cooked"]) if post.get("cooked") is not None else post["raw"]
        return Post(
            id=Post.make_id(self.name, f"{topic}/{number}"),
            source=self.name,
            url=f"{self.base_url}{post['post_url']}" if post.get("post_url") else None,
            title=post.get("topic_title"),
            text=text,
            created_at=iso_time(post["created_at"], "created_at"),
            author=Author(id=str(post.get("user_id", post["username"])), name=post["username"]),
            engagement=Engagement(likes=likes(post), comments=post.get("reply_count")),
            parent_id=Post.make_id(self.name, f"{topic}/{parent}") if number > 1 else None,
        )
