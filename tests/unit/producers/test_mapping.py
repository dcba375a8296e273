"""Each connector's map_item on recorded payloads in the sources' real formats."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from canyu.schema import Post
from producers.base import BadPayload, Record
from producers.discourse import DiscourseSource
from producers.discourse_common import DiscourseConfig
from producers.html import html_text
from producers.reddit import RedditConfig, RedditSource
from producers.replay import ReplayConfig, ReplaySource, sample_corpus
from producers.rss import RssConfig, RssSource
from producers.runner import mapped
from producers.weibo import WeiboConfig, WeiboSource
from tests.unit.producers.helpers import fixture


def posts_and_errors(source, name):
    results = list(mapped(source, source.records(fixture(name))))
    return {p.id: p for _, p, _ in results if p}, [reason for _, p, reason in results if p is None]


def offset_hours(post) -> float:
    return post.created_at.utcoffset() / timedelta(hours=1)


# --- Weibo -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def weibo():
    return WeiboSource(WeiboConfig.model_validate({"name": "weibo"}, context={"polling": False}))


def test_a_weibo_repost_yields_the_repost_and_its_original_linked_by_repost_of(weibo):
    posts, _ = posts_and_errors(weibo, "weibo/page1.json")
    repost, original = posts["weibo:9007199254740995"], posts["weibo:9007199254740001"]
    assert repost.repost_of == original.id
    assert original.repost_of is None
    assert original.author.name == "数码测评君" and original.author.verified is True
    assert original.engagement.reposts == 5123 and original.engagement.likes == 20411


def test_weibo_ids_are_exact_strings_even_past_what_a_float_holds(weibo):
    posts, _ = posts_and_errors(weibo, "weibo/page1.json")
    assert "weibo:9007199254740993" in posts  # 2**53 + 1: a float would have made it ...992
    assert posts["weibo:9007199254740993"].author.id == "6012233445"


def test_weibo_created_at_keeps_its_timezone(weibo):
    posts, _ = posts_and_errors(weibo, "weibo/page1.json")
    post = posts["weibo:9007199254740993"]
    assert offset_hours(post) == 8
    assert (post.created_at.hour, post.created_at.minute) == (21, 40)


def test_a_missing_weibo_count_stays_missing_and_a_zero_stays_zero(weibo):
    posts, _ = posts_and_errors(weibo, "weibo/page2.json")
    missing = posts["weibo:9007199254740980"].engagement
    assert (missing.likes, missing.reposts, missing.comments) == (None, None, None)
    counted = posts["weibo:9007199254740970"].engagement
    assert (counted.likes, counted.reposts, counted.comments) == (0, 3, 12)


def test_weibo_text_keeps_line_breaks_emoji_and_unescapes_entities(weibo):
    posts, _ = posts_and_errors(weibo, "weibo/page3.json")
    assert posts["weibo:9007199254740960"].text == "第一行\n第二行 😀 表情也要在"
    posts, _ = posts_and_errors(weibo, "weibo/page1.json")
    assert posts["weibo:9007199254740990"].text == "夜景拍照太强了 & 色彩很自然"


def test_bad_weibo_records_have_a_reason(weibo):
    _, reasons = posts_and_errors(weibo, "weibo/page2.json")
    assert reasons == ["created_at 'yesterday 18:00' is not like 'Tue May 31 17:46:55 +0800 2011'"]
    _, reasons = posts_and_errors(weibo, "weibo/page3.json")
    assert reasons == ["missing field 'id'"]


# --- Discourse -------------------------------------------------------------------------------------------------------


@pytest.fixture
def discourse():
    return DiscourseSource(DiscourseConfig(name="forum", url="https://forum.example.com/"))


def test_discourse_cooked_html_becomes_text_with_line_breaks_and_emoji(discourse):
    posts, _ = posts_and_errors(discourse, "discourse/posts-page1.json")
    assert posts["forum:7/4"].text == "Same here on the X5 :pensive:\nIt reconnects after ~30s 😩"
    assert posts["forum:8/2"].text == "배터리 오래가요 & 충전도 빨라요"
    posts, _ = posts_and_errors(discourse, "discourse/posts-page2.json")
    assert posts["forum:8/1"].text == (
        "Battery life on the X5 after two weeks:\n\nscreen on: 7h\nstandby drain: 1%/h\n\nbetter than my old phone"
    )


def test_discourse_replies_link_to_their_parent(discourse):
    posts, _ = posts_and_errors(discourse, "discourse/posts-page1.json")
    assert posts["forum:7/4"].parent_id == "forum:7/2"  # reply_to_post_number
    assert posts["forum:7/3"].parent_id == "forum:7/1"  # no reply_to_post_number: it answers the topic
    posts, _ = posts_and_errors(discourse, "discourse/posts-page3.json")
    assert posts["forum:7/1"].parent_id is None


def test_discourse_fields_times_and_missing_likes(discourse):
    posts, _ = posts_and_errors(discourse, "discourse/posts-page1.json")
    post = posts["forum:7/4"]
    assert post.url == "https://forum.example.com/t/wifi-drops-after-the-november-update/7/4"
    assert post.title == "WiFi drops after the November update"
    assert post.author.name == "mina" and post.engagement.likes == 4 and post.engagement.comments == 0
    assert offset_hours(posts["forum:8/2"]) == 9 and offset_hours(post) == 0
    posts, _ = posts_and_errors(discourse, "discourse/posts-page3.json")
    assert posts["forum:7/1"].engagement.likes is None  # no actions_summary: not known, not zero


def test_a_saved_discourse_topic_reads_like_posts_json_with_the_topic_title(discourse):
    posts, _ = posts_and_errors(discourse, "discourse/topic-7.json")
    assert set(posts) == {"forum:7/1", "forum:7/3"}
    assert posts["forum:7/3"].title == "WiFi drops after the November update"


def test_a_bad_discourse_date_has_a_reason(discourse):
    _, reasons = posts_and_errors(discourse, "discourse/posts-page2.json")
    assert reasons == ["created_at 'not a date' is not an ISO 8601 time"]


# --- RSS, Atom and Discuz! -------------------------------------------------------------------------------------------


@pytest.fixture
def rss():
    return RssSource(RssConfig(name="bbs", url="https://bbs.example.cn/forum.php?mod=rss&fid=2"))


def test_a_gb2312_discuz_feed_decodes_and_keys_items_on_the_thread_id(rss):
    posts, reasons = posts_and_errors(rss, "rss/discuz-gb2312.xml")
    assert set(posts) == {"bbs:52013", "bbs:52011"}
    post = posts["bbs:52013"]
    assert post.title == "升级后耗电快，待机一晚掉了百分之二十"
    assert post.text == "昨晚升级到最新版本，\n今早起来发现电量从百分之八十掉到六十。\n有没有人遇到同样的问题？"
    assert post.author.id == "小王"
    assert offset_hours(post) == 8 and offset_hours(posts["bbs:52011"]) == 0
    assert posts["bbs:52011"].text == "型号是去年的，之前一直正常。"
    assert reasons == ["date '昨天 下午' is neither RFC 822 nor ISO 8601"]


def test_atom_entries_keep_their_id_timezone_and_emoji(rss):
    posts, _ = posts_and_errors(rss, "rss/atom.xml")
    post = posts["bbs:tag:blog.example.com,2026:night-mode"]
    assert post.text == "야간 사진이 정말 좋아요 📷\n\n노이즈도 적어요"
    assert offset_hours(post) == 9 and post.author.name == "지민"
    anonymous = posts["bbs:tag:blog.example.com,2026:battery"]
    assert anonymous.author.id == "unknown" and anonymous.author.name is None
    assert anonymous.engagement.likes is None  # feeds carry no counts at all


# --- Reddit ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def reddit():
    return RedditSource(RedditConfig(name="reddit", url="https://oauth.reddit.com/r/AndroidPhones/new.json"))


def test_reddit_posts_and_comments_map_with_parents_and_utc_times(reddit):
    posts, _ = posts_and_errors(reddit, "reddit/new-page1.json")
    post, comment = posts["reddit:t3_1h9x3kq"], posts["reddit:t1_m1abcd7"]
    assert post.title == "X5 battery after the update" and post.text == "Lost 20% overnight.\n\nAnyone else? 🔋"
    assert post.url == "https://www.reddit.com/r/AndroidPhones/comments/1h9x3kq/x5_battery_after_the_update/"
    assert offset_hours(post) == 0 and post.created_at.isoformat() == "2026-11-27T10:00:00+00:00"
    assert comment.parent_id == "reddit:t3_1h9x2aa" and comment.text == "Same here, & it runs warm too"
    assert comment.author.id == "t2_quietf" and comment.author.name == "quietfox"


def test_reddit_zero_counts_stay_zero_and_missing_counts_stay_missing(reddit):
    posts, _ = posts_and_errors(reddit, "reddit/new-page1.json")
    zero = posts["reddit:t3_1h9x2zz"].engagement
    assert (zero.likes, zero.comments, zero.reposts) == (0, 0, 0)
    posts, reasons = posts_and_errors(reddit, "reddit/new-page2.json")
    hidden = posts["reddit:t3_1h9x1yy"].engagement
    assert (hidden.likes, hidden.comments, hidden.reposts) == (None, None, None)
    assert reasons == ["missing field 'created_utc'"]


# --- Replay and shared rules -----------------------------------------------------------------------------------------


def test_replay_lines_are_posts_and_bad_lines_have_a_reason(tmp_path):
    good = sample_corpus().read_bytes().splitlines()[0]
    path = tmp_path / "posts.jsonl"
    path.write_bytes(good + b"\n" + b'{"id": "x:1", "text": \n')
    source = ReplaySource(ReplayConfig(name="replay", path=path))
    results = list(mapped(source, source.records(path.read_bytes())))
    assert results[0][1] == Post.model_validate_json(good)
    assert "Invalid JSON" in results[1][2] or "EOF" in results[1][2]


def test_text_over_the_size_limit_is_refused_with_its_length():
    source = RedditSource(RedditConfig(name="reddit", url="https://r.example/new.json", max_text_chars=10))
    results = list(mapped(source, source.records(fixture("reddit/new-page1.json"))))
    reasons = [reason for _, post, reason in results if post is None]
    assert reasons == ["text is 35 characters, over the limit of 10", "text is 29 characters, over the limit of 10"]


def test_html_text_drops_scripts_and_keeps_preformatted_lines():
    assert html_text("<p>a&nbsp;b</p><script>x()</script><pre>  one\n  two</pre>") == "a b\n\n  one\n  two"


@pytest.mark.parametrize("post_url", ["@evil.example/t/x/7/4", "javascript:alert(1)"])
def test_a_discourse_post_url_that_leads_elsewhere_makes_the_post_a_dead_letter(post_url):
    post = {**json.loads(fixture("discourse/posts-page1.json"))["latest_posts"][0], "post_url": post_url}
    source = DiscourseSource(DiscourseConfig(name="forum", url="https://forum.example.com/"))
    ((_, mapped_post, reason),) = mapped(source, [Record.of(post)])
    assert mapped_post is None and ("link" in reason or "not a path on the forum" in reason)


GARBLE_PRONE = """<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel><title>bbs</title>
<item><guid>1</guid><title>电池</title><description>电池续航</description>
<pubDate>Mon, 17 Sep 2018 15:51:23 +0800</pubDate></item>
</channel></rss>"""  # UTF-8 bytes of these words are also valid GB18030, of other words: "鐢垫睜"


@pytest.mark.parametrize("content_type", [None, "application/rss+xml", "text/xml; charset=gb2312"])
def test_utf8_bytes_under_a_gb2312_declaration_are_read_as_the_utf8_they_are(rss, content_type):
    (record,) = rss.records(GARBLE_PRONE.encode("utf-8"), content_type)
    post = rss.map_item(record.item)
    assert (post.title, post.text) == ("电池", "电池续航")


def test_real_gb2312_bytes_still_read_as_gb2312(rss):
    records = rss.records(GARBLE_PRONE.encode("gb2312"))
    assert rss.map_item(records[0].item).title == "电池"


def test_bytes_that_no_declared_encoding_reads_are_set_aside_not_published_garbled(rss):
    broken = GARBLE_PRONE.encode("utf-8").replace("续航".encode(), b"\xff\xfe\x81")  # valid in neither
    with pytest.raises(BadPayload, match="none of the encodings it declares"):
        rss.records(broken)


@pytest.mark.parametrize(("entry", "url"), [
    ({"link": "thread-7-1-1.html"}, "https://bbs.example.cn/thread-7-1-1.html"),
    ({"link": "52013", "guidislink": True}, None),  # feedparser's link from a guid that is no URL
    ({"link": "https://bbs.example.cn/t-9.html", "guidislink": True}, "https://bbs.example.cn/t-9.html"),
])  # fmt: skip
def test_an_rss_link_is_made_absolute_on_the_feeds_address_or_left_out(rss, entry, url):
    post = rss.map_item({"id": "1", "title": "t", "published": "Mon, 17 Sep 2018 15:51:23 +0800", **entry})
    assert post.url == url


def test_an_rss_javascript_link_makes_the_entry_a_dead_letter(rss):
    entry = {"id": "1", "title": "t", "published": "Mon, 17 Sep 2018 15:51:23 +0800", "link": "javascript:alert(1)"}
    ((_, post, reason),) = mapped(rss, [Record.of(entry)])
    assert post is None and "link" in reason
