"""10,000 generated bad payloads through every producer's mapping: none crashes; each is a post or a dead letter.

Each source gets records made from one of its real recorded items with fields dropped or
replaced by arbitrary JSON (nulls, huge and non-finite numbers, calendar edges, control
characters, nested junk), and some that are arbitrary JSON altogether. Each one goes the
way the runner sends it: ``mapped`` (then a dead letter as the runner would encode it),
and, for the paged sources, the order key that the high-water mark is made of.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canyu.schema import DeadLetter, Post
from canyu.settings import Settings
from canyu_runtime.dead_letters import message
from producers.base import BadPayload, Record
from producers.discourse import DiscourseSource
from producers.discourse_common import DiscourseConfig
from producers.reddit import RedditConfig, RedditSource
from producers.replay import ReplayConfig, ReplaySource, sample_corpus
from producers.rss import RssConfig, RssSource
from producers.runner import mapped
from producers.weibo import WeiboConfig, WeiboSource
from tests.unit.producers.helpers import fixture

EXAMPLES = 2_000  # per source; five sources: 10,000 in all
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
pytestmark = pytest.mark.timeout(300)

EDGES = ["", "0", "-1", "Infinity", "NaN", "1e309", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z",
         "2999-01-01T00:00:00Z", "2018-09-17 15:51:23", "Tue May 31 17:46:55 +0800 2011", "Mon, 17 Sep 2018 15:51:23",
         "Mon, 17 Sep 2018 15:51:23 +9999", "\x00", "\r\n", "<script>alert(1)</script>", "javascript:alert(1)",
         "昨天 下午", "t3_x", "t1_", "99999999999999999999999", "-9223372036854775809", "/t/x/1/1"]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(EDGES),
)
junk = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=4,
)  # fmt: skip


@st.composite
def mutated(draw, template: dict):
    """The template with some fields dropped or replaced by junk, at any depth; now and then junk alone."""
    if draw(st.integers(0, 9)) == 0:
        return draw(junk)

    def walk(value):
        if isinstance(value, dict):
            out = {}
            for key, inner in value.items():
                action = draw(st.sampled_from(["keep", "keep", "keep", "drop", "junk"]))
                if action != "drop":
                    out[key] = draw(junk) if action == "junk" else walk(inner)
            return out
        if isinstance(value, list):
            return [walk(inner) for inner in value]
        return value

    return walk(template)


def check(source, records: list[Record]) -> None:
    """Each record is a valid post, or has a reason and makes a dead letter that Kafka would take."""
    for record, post, reason in mapped(source, records):
        if post is not None:
            assert isinstance(post, Post) and reason is None
            assert post.created_at.tzinfo is not None
            Post.model_validate_json(post.model_dump_json())  # what the worker will read back
        else:
            assert isinstance(reason, str) and reason.strip()
            letter = DeadLetter.of(record.raw, stage="produce", source=source.name, reason=reason, topic="posts.raw")
            key, value = message(letter)
            assert DeadLetter.model_validate_json(value).reason.startswith(reason[:100].rstrip("…"))


def as_record(item) -> Record:
    return Record(json.dumps(item, ensure_ascii=False).encode(), item)  # json writes Infinity and NaN, as some do


SETTINGS = Settings()
WEIBO = WeiboSource(WeiboConfig.model_validate({"name": "weibo"}, context={"polling": False}), settings=SETTINGS)
REDDIT = RedditSource(RedditConfig(name="reddit", url="https://oauth.reddit.com/r/x/new.json"), settings=SETTINGS)
DISCOURSE = DiscourseSource(DiscourseConfig(name="forum", url="https://forum.example.com"), settings=SETTINGS)
RSS = RssSource(RssConfig(name="bbs", url="https://bbs.example.cn/rss"), settings=SETTINGS)


def only(item: dict, *fields: str) -> dict:
    """The recorded item cut down to the fields its mapping reads: the others only slow the fuzzing down."""
    return {key: value for key, value in item.items() if key in fields}


WEIBO_FIELDS = ("created_at", "id", "idstr", "mid", "text", "isLongText", "longText", "reposts_count",
                "comments_count", "attitudes_count")  # fmt: skip
USER_FIELDS = ("id", "idstr", "screen_name", "followers_count", "verified")
_status = json.loads(fixture("weibo/page1.json"))["statuses"][0]  # a repost, with its original inside
WEIBO_STATUS = {
    **only(_status, *WEIBO_FIELDS),
    "user": only(_status["user"], *USER_FIELDS),
    "retweeted_status": {**only(_status["retweeted_status"], *WEIBO_FIELDS),
                         "user": only(_status["retweeted_status"]["user"], *USER_FIELDS)},
}  # fmt: skip
_child = json.loads(fixture("reddit/new-page1.json"))["data"]["children"][0]
REDDIT_FIELDS = ("name", "title", "selftext", "body", "created_utc", "author", "author_fullname", "ups",
                 "num_crossposts", "num_comments", "permalink", "parent_id")  # fmt: skip
REDDIT_CHILD = {"kind": _child["kind"], "data": only(_child["data"], *REDDIT_FIELDS)}
DISCOURSE_POST = only(json.loads(fixture("discourse/posts-page1.json"))["latest_posts"][0], "id", "topic_id",
                      "post_number", "reply_to_post_number", "cooked", "raw", "post_url", "topic_title", "created_at",
                      "user_id", "username", "like_count", "actions_summary", "reply_count")  # fmt: skip
RSS_ENTRY = {"id": "tag:x,2026:1", "link": "https://bbs.example.cn/thread-52013-1-1.html", "title": "耗电快",
             "summary": "<p>待机掉电</p>", "content": [{"value": "<p>正文</p>"}], "author": "小王",
             "published": "Mon, 17 Sep 2018 15:51:23 +0800", "canyu_feed_language": "zh-cn"}  # fmt: skip


@FUZZ
@given(mutated(WEIBO_STATUS))
def test_weibo_statuses(status):
    check(WEIBO, [as_record(item) for item in (WEIBO.expand(status) if isinstance(status, dict) else [status])])
    WEIBO._order_or_none(status) if isinstance(status, dict) else None


@FUZZ
@given(mutated(REDDIT_CHILD))
def test_reddit_children(child):
    check(REDDIT, [as_record(child)])
    if isinstance(child, dict):
        REDDIT._order_or_none(child)  # the high-water mark's key: never an exception, never out of the window


@FUZZ
@given(mutated(DISCOURSE_POST))
def test_discourse_posts(post):
    check(DISCOURSE, [as_record(post)])
    if isinstance(post, dict):
        DISCOURSE._order_or_none(post)


@FUZZ
@given(mutated(RSS_ENTRY), st.sampled_from([None, b"", b"<rss>", b"<rss version='2.0'><channel><item>"]))
def test_rss_entries_and_feeds(entry, feed):
    check(RSS, [as_record(entry)] if isinstance(entry, dict) else [])
    if feed is not None:
        try:
            check(RSS, RSS.records(feed + json.dumps(entry, ensure_ascii=False, default=str).encode()))
        except BadPayload as e:  # a whole response that is no feed: the runner dead-letters it whole
            assert str(e)


REPLAY = ReplaySource(ReplayConfig(name="replay", path=sample_corpus()), settings=SETTINGS)
SAMPLE_POST = json.loads(sample_corpus().read_text().splitlines()[0])


@FUZZ
@given(
    st.one_of(mutated(SAMPLE_POST).map(lambda p: json.dumps(p, ensure_ascii=False).encode()), st.binary(max_size=200))
)
def test_replay_lines(line):
    check(REPLAY, REPLAY.records(line.replace(b"\n", b" ") + b"\n"))
