"""10,900 generated bad payloads through every producer: none crashes; each is a post or a dead letter.

Each source gets records made from one of its real recorded items with fields dropped or
replaced by arbitrary JSON (nulls, huge and non-finite numbers, calendar edges, control
characters, nested junk), and some that are arbitrary JSON altogether. Each one goes the
way the runner sends it: ``mapped`` (then a dead letter as the runner would encode it),
and, for the paged sources, the order key that the high-water mark is made of.

Then (issue 24), 300 each: pages nested up to 3,000 deep (a post, a dead letter, or one
unreadable response); bodies in any stack of content codings, cut short or not (decoded
within the limit, or refused); and pages of real posts among junk ids and dates, where
every item is a post or a dead letter and the mark never passes the newest real post.
"""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canyu.schema import DeadLetter, Post
from canyu.settings import Settings
from canyu_runtime.dead_letters import message
from canyu_runtime.decoding import BodyRefused, TooLarge, read_decoded
from producers.base import MAX_DEPTH, BadPayload, Record
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


# --- Nesting depth, content codings and ids (issue 24) ----------------------------------------------------------------

SMALL_FUZZ = settings(max_examples=300, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
PAGES = {  # a source, and a page of its holding one item
    "weibo": (WEIBO, lambda item: {"statuses": [item]}, WEIBO_STATUS),
    "reddit": (REDDIT, lambda item: {"kind": "Listing", "data": {"after": None, "children": [item]}}, REDDIT_CHILD),
    "discourse": (DISCOURSE, lambda item: {"latest_posts": [item]}, DISCOURSE_POST),
}
HOLE = "\x00hole\x00"  # where the nested value goes, in the page's JSON text


@st.composite
def deeply_nested(draw) -> tuple[str, bytes, int]:
    """A real page with one value (or the whole page) nested 1 to 3,000 arrays and objects deep."""
    kind = draw(st.sampled_from(sorted(PAGES)))
    _, page_of, item = PAGES[kind]
    levels = draw(st.lists(st.booleans(), min_size=1, max_size=8))  # a pattern of [ and {, repeated to the depth
    depth = draw(st.integers(1, 3_000))
    opening = "".join("[" if levels[i % len(levels)] else '{"k": ' for i in range(depth))
    closing = "".join("]" if levels[i % len(levels)] else "}" for i in reversed(range(depth)))
    nested = opening + draw(st.sampled_from(["1", '"x"', "null", "[]", "{}"])) + closing
    if draw(st.booleans()):
        return kind, (opening + json.dumps(page_of(item)) + closing).encode(), depth
    field = draw(st.sampled_from(sorted(item)))
    text = json.dumps(page_of({**item, field: HOLE}), ensure_ascii=False)
    return kind, text.replace(json.dumps(HOLE), nested).encode(), depth


@SMALL_FUZZ
@given(deeply_nested())
def test_any_nesting_depth_is_a_post_a_dead_letter_or_one_unreadable_response(payload):
    kind, body, depth = payload
    source = PAGES[kind][0]
    try:
        records = source.records(body)
    except BadPayload as e:  # the runner dead-letters the response whole, once, and polls on
        assert e.raw == body and ("nested deeper than 128" in str(e) or depth <= MAX_DEPTH)
        return
    assert depth <= MAX_DEPTH
    check(source, records)


CODINGS = ["gzip", "x-gzip", "deflate", "identity", "br", "zstd", "compress", "GZIP", " gzip ", ""]


def encoded(body: bytes, coding: str, raw_deflate: bool) -> bytes:
    name = coding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return gzip.compress(body, mtime=0)
    if name == "deflate":
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)
        return packer.compress(body) + packer.flush()
    return body  # identity, or a coding canyu never asked for (the bytes are left as they are)


@SMALL_FUZZ
@given(
    body=st.one_of(st.binary(max_size=3_000), st.sampled_from([fixture("weibo/page1.json"), bytes(200_000)])),
    codings=st.lists(st.sampled_from(CODINGS), max_size=3),
    raw_deflate=st.booleans(),
    cut=st.one_of(st.none(), st.integers(0, 64)),
    limit=st.integers(1, 300_000),
    chunk=st.integers(1, 70_000),
)
def test_any_content_coding_is_decoded_within_the_limit_or_refused(body, codings, raw_deflate, cut, limit, chunk):
    wire = body
    for coding in codings:
        wire = encoded(wire, coding, raw_deflate)
    if cut is not None:
        wire = wire[: max(0, len(wire) - cut)]  # a body cut short on the way
    chunks = [wire[i : i + chunk] for i in range(0, len(wire), chunk)]
    header = ", ".join(codings) or None
    layers = [c for c in (c.strip().lower() for c in codings) if c not in ("", "identity")]
    try:
        decoded = read_decoded(chunks, header, limit)
    except TooLarge:
        assert len(body) > limit or cut is not None  # counted decoded: only a body over the limit is too large
        return
    except BodyRefused as e:
        assert len(layers) > 1 or layers[0] not in ("gzip", "x-gzip", "deflate") or cut is not None, e
        return
    assert len(decoded) <= limit and len(layers) <= 1
    if cut is None or not layers:
        assert decoded == (body if cut is None else wire)
    if decoded == fixture("weibo/page1.json"):
        check(WEIBO, WEIBO.records(decoded))  # decoded, a real page maps as ever


# Ids and dates that must never become a high-water mark: far ahead, out of the source's shape, not a number. (An
# id behind the mark is no junk: it is an old post, skipped as such.)
JUNK_IDS = st.one_of(
    st.integers(min_value=-(2**70), max_value=0),
    st.integers(min_value=2**63, max_value=2**80),
    st.sampled_from(["", "x", "1e30", "NaN", None, [], {}, float("nan"), float("inf"), -1.5, 1e300]),
)
FAR_AHEAD = st.integers(min_value=10**15 + 1, max_value=2**62)  # past the real ids by more than max_id_ahead


@st.composite
def timeline_with_junk(draw) -> tuple[object, dict, list[dict], list[int]]:
    """A source, a previous mark (or none), and a page of real items newer than it, with junk ids among them."""
    kind = draw(st.sampled_from(["weibo", "discourse", "reddit"]))
    now = int(datetime.now(timezone.utc).timestamp())
    base = {"weibo": 4_900_000_000_000_000, "discourse": 1_000, "reddit": now - 86_400}[kind]
    real = sorted(base + step for step in draw(st.sets(st.integers(1, 80_000), min_size=1, max_size=6)))
    with_mark = draw(st.booleans())
    most_junk = 6 if with_mark else len(real) - 1  # on a first run, real items must outnumber junk: the median rule
    if kind == "reddit":
        junk = draw(st.lists(st.sampled_from([float("inf"), 1e300, -1.0, 0, now + 86_400 * 365, 32_503_680_000]),
                             max_size=most_junk))  # fmt: skip
    else:
        ahead = FAR_AHEAD.map(lambda n: real[-1] + n if kind == "weibo" else real[-1] + n % 2**40 + 10**7 + 1)
        junk = draw(st.lists(st.one_of(JUNK_IDS, ahead), max_size=most_junk))
    make = {
        "weibo": lambda i: {**WEIBO_STATUS, "id": i, "idstr": str(i), "mid": str(i), "retweeted_status": None},
        "discourse": lambda i: {**DISCOURSE_POST, "id": i},
        "reddit": lambda t: {"kind": "t3", "data": {**REDDIT_CHILD["data"], "name": f"t3_{t}", "created_utc": t}},
    }
    items = [make[kind](key) for key in [*real, *junk]]
    if kind == "weibo":
        for item in items[len(real) :]:  # a junk id in every place the id is read from
            item.update(id=item["id"], idstr=item["id"], mid=item["id"])
    order = draw(st.permutations(items))
    return kind, ({"high": str(base)} if with_mark else {}), order, real


@SMALL_FUZZ
@given(timeline_with_junk())
def test_every_item_is_a_post_or_a_dead_letter_and_the_mark_never_passes_a_real_post(case):
    kind, position, items, real = case
    source, page_of, _ = PAGES[kind]
    body = json.dumps(page_of(None)).replace("[null]", json.dumps(items)).encode()
    paged = type(source)(source.config.model_copy(update={"backfill_pages": 1}), settings=SETTINGS)
    paged.request = lambda token, high: body  # the page, as the source's server would answer
    page = paged.fetch(position)
    check(paged, page.records)  # every item: a post, or a dead letter with a reason
    assert len(page.records) == len(items)  # none skipped as old: all are newer than the mark, or junk
    marks = [int(page.position[name]) for name in ("high", "top") if page.position.get(name)]
    assert marks and max(marks) <= real[-1]  # a later real post is always above the mark, so it will be read
