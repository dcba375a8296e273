import re

import pytest
from pydantic import ValidationError

from canyu.schema import Channel, DeadLetter, EnrichedPost, LabelScores, Post

BASE = {"id": "weibo:4901", "source": "weibo", "text": "电池续航太差了", "created_at": "2026-11-20T10:00:00+08:00",
        "author": {"id": "u1"}}  # fmt: skip


def test_a_missing_count_stays_missing_and_a_zero_stays_zero():
    post = Post.model_validate({**BASE, "engagement": {"likes": 0}})
    assert post.engagement.likes == 0
    assert post.engagement.reposts is None
    again = Post.model_validate_json(post.model_dump_json())
    assert again.engagement.likes == 0 and again.engagement.reposts is None


def test_created_at_keeps_its_timezone():
    post = Post.model_validate(BASE)
    assert post.created_at.utcoffset().total_seconds() == 8 * 3600
    assert "+08:00" in post.model_dump_json()


def test_naive_timestamps_are_refused():
    with pytest.raises(ValidationError, match="timezone"):
        Post.model_validate({**BASE, "created_at": "2026-11-20T10:00:00"})


@pytest.mark.parametrize("bad_id", ["4901", "forum:4901", "weibo:", 4901])
def test_the_id_must_be_source_colon_native_id(bad_id):
    with pytest.raises(ValidationError):
        Post.model_validate({**BASE, "id": bad_id})


def test_unknown_fields_are_refused_rather_than_silently_dropped():
    with pytest.raises(ValidationError, match="extra"):
        Post.model_validate({**BASE, "likes": 3})


def test_enriched_post_is_a_post_with_labels():
    enriched = EnrichedPost.model_validate({
        **BASE, "language": "zh", "classifier": "test",
        "sentiment": {"label": "negative", "scores": {"negative": 1.0}},
        "intent": {"label": "complaint", "scores": {"complaint": 1.0}},
        "topics": [{"id": "battery", "score": 0.9}],
    })  # fmt: skip
    assert isinstance(enriched, Post)
    assert enriched.topics[0].id == "battery"


def test_a_dead_letter_keeps_the_exact_bytes():
    raw = b"\xff\xfe not utf-8 {"
    letter = DeadLetter.of(raw, stage="enrich", reason="bad json", offset=7)
    assert DeadLetter.model_validate_json(letter.model_dump_json()).raw() == raw


BAD_TARGETS = [
    ("webhook", "http://hooks.example.com:99999/x", "port outside 1-65535"),
    ("webhook", "http://hooks.example.com:0/x", "port outside 1-65535"),
    ("webhook", "http://hooks.example.com/a\x00b", "control character"),
    ("webhook", "http://hooks.example.com/a\r\nX-Injected: 1", "control character"),
    ("slack", "javascript:alert(1)", "not an http(s) URL"),
    ("webhook", "ftp://hooks.example.com/x", "not an http(s) URL"),
    ("webhook", "http:///x", "has no host"),
    ("email", "team@example.com\r\nBcc: everyone@example.com", "control character"),
    ("email", "team@example.com\nBcc: everyone@example.com", "control character"),
    ("email", "not-an-address", "not an email address"),
    ("email", "team@localhost", "not an email address"),
    ("kafka", "team topic", "control character or white space"),
    ("kafka", "team/topic", "not a Kafka topic name"),
    ("kafka", "..", "not a Kafka topic name"),
    ("kafka", "t" * 250, "not a Kafka topic name"),
]


@pytest.mark.parametrize(("kind", "target", "why"), BAD_TARGETS)
def test_a_channel_target_is_checked_when_it_is_made(kind, target, why):
    with pytest.raises(ValidationError, match=re.escape(why)):
        Channel(type=kind, target=target)


@pytest.mark.parametrize(
    ("kind", "target"),
    [("webhook", "https://hooks.example.com:8443/x?y=1"), ("slack", "https://hooks.slack.com/services/T/B/X"),
     ("email", "battery-team+alerts@example.co.uk"), ("kafka", "team.battery_alerts-1")],
)  # fmt: skip
def test_good_channel_targets_pass(kind, target):
    assert Channel(type=kind, target=target).target == target


def test_a_bad_target_error_does_not_repeat_a_slack_url():
    with pytest.raises(ValidationError) as caught:
        Channel(type="slack", target="https://hooks.slack.com:99999/services/T/B/SECRET")
    assert "SECRET" not in str(caught.value)


def test_secret_env_must_be_a_variable_name():
    with pytest.raises(ValidationError, match="secret_env"):
        Channel(type="webhook", target="https://hooks.example.com/x", secret_env="A=B; rm")


def test_a_label_carries_its_confidence_and_older_records_get_it_from_their_scores():
    old = LabelScores.model_validate({"label": "negative", "scores": {"negative": 0.8, "positive": 0.2}})
    assert old.confidence == 0.8
    assert LabelScores.model_validate_json('{"label": "other", "scores": {}}').confidence == 0.0
    assert LabelScores(label="praise", scores={"praise": 0.6}, confidence=0.55).confidence == 0.55
    assert LabelScores(label="praise", scores={"praise": 0.6}).model_dump()["confidence"] == 0.6
    with pytest.raises(ValidationError):
        LabelScores(label="praise", scores={}, confidence=1.5)


@pytest.mark.parametrize(("url", "why"), [
    ("javascript:alert(document.cookie)", "not an http"),
    ("JavaScript:alert(1)", "not an http"),
    ("data:text/html,<script>alert(1)</script>", "not an http"),
    ("https://forum.example.com@evil.example/t/x/7/4", "user information"),
    ("https://user:pass@forum.example.com/t/x/7/4", "user information"),
    ("//evil.example/t/x", "not an http"),
    ("/\\evil.example/t/x", "not an http"),
    ("https:///t/x", "no host"),
    ("https://forum.example.com/t/x\n/7", "control character"),
    ("https://forum.example.comjavascript:alert(1)", "port"),
])  # fmt: skip
def test_a_post_link_must_lead_where_it_says(url, why):
    with pytest.raises(ValidationError, match=why):
        Post.model_validate({**BASE, "url": url})


@pytest.mark.parametrize("url", ["https://weibo.com/1/4901", "http://bbs.example.cn/thread-7-1-1.html?x=1#top",
                                 "/t/wifi-drops/7/4", None])  # fmt: skip
def test_http_links_and_paths_on_the_sources_site_are_kept(url):
    assert Post.model_validate({**BASE, "url": url}).url == url
