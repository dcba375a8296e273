"""The offline default: installed packages and the shipped heads, no network."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from canyu.schema import INTENT_LABELS, SENTIMENT_LABELS
from models import load_classifier
from models.taxonomy import load_taxonomy

TOPIC_IDS = {t.id for t in load_taxonomy()}


@pytest.fixture(scope="module")
def clf():
    return load_classifier()


@pytest.mark.parametrize(
    ("text", "language", "sentiment", "topic"),
    [
        ("电池续航太差了，一天要充三次电，非常失望", "zh", "negative", "battery"),
        ("拍照效果非常好，夜景清晰，很满意", "zh", "positive", "camera"),
        ("카메라 정말 좋아요 사진이 선명하고 최고입니다", "ko", "positive", "camera"),
        ("배터리가 너무 빨리 닳아요 최악이에요 실망", "ko", "negative", "battery"),
        ("I love this phone, the screen is gorgeous and so bright!", "en", "positive", "display"),
        ("Worst phone ever, the battery is terrible and it overheats", "en", "negative", "battery"),
    ],
)
def test_obvious_posts_in_three_languages(clf, text, language, sentiment, topic):
    (out,) = clf.classify([text])
    assert (out.language, out.sentiment.label) == (language, sentiment)
    assert out.topics[0][0] == topic


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Please add call recording to the dialer", "feature_request"),
        ("The app crashes every time I open the camera after the update", "bug_report"),
    ],
)
def test_obvious_intents(clf, text, intent):
    (out,) = clf.classify([text])
    assert out.intent.label == intent


def test_scores_are_complete_distributions_and_topics_come_from_the_taxonomy(clf):
    for c in clf.classify(["电池续航太差了", "카메라 정말 좋아요", "please add call recording", "ok"]):
        assert set(c.sentiment.scores) == set(SENTIMENT_LABELS)
        assert set(c.intent.scores) == set(INTENT_LABELS)
        assert sum(c.sentiment.scores.values()) == pytest.approx(1, abs=1e-4)
        assert sum(c.intent.scores.values()) == pytest.approx(1, abs=1e-4)
        assert c.sentiment.label == max(c.sentiment.scores, key=c.sentiment.scores.get)
        assert {t for t, _ in c.topics} <= TOPIC_IDS
        assert [s for _, s in c.topics] == sorted((s for _, s in c.topics), reverse=True)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\u200b"])
def test_empty_or_blank_text_is_und_neutral_other(clf, text):
    (out,) = clf.classify([text])
    assert (out.language, out.sentiment.label, out.intent.label, out.topics) == ("und", "neutral", "other", [])


@pytest.mark.parametrize(
    "text",
    [
        "😀🔥👍",  # emoji only
        "👨\u200d👩\u200d👧 family photo mode 👨\u200d👩\u200d👧",  # zero-width joiners
        "小米14的camera真的很好，카메라도 좋아요, amazing!!",  # mixed scripts
        "电池不行" * 25_000,  # 100 KB
        "\ud83d broken surrogate",  # a lone surrogate, as JSON can carry
    ],
)
def test_unicode_edge_cases_classify_without_error(clf, text):
    (out,) = clf.classify([text])
    assert out.sentiment.label in SENTIMENT_LABELS and out.intent.label in INTENT_LABELS


def test_emoji_only_has_no_language_and_mixed_scripts_go_by_the_majority(clf):
    emoji, mixed = clf.classify(["😀🔥👍", "小米14的camera真的很好，拍照清晰"])
    assert emoji.language == "und"
    assert mixed.language == "zh"


def test_deterministic_batched_and_thread_safe(clf):
    texts = ["电池续航太差了", "카메라 정말 좋아요", "please add call recording", "", "the screen flickers"] * 4
    once = clf.classify(texts)
    for alone, batched in zip([clf.classify([t])[0] for t in texts[:5]], once, strict=False):
        # The encoder's float32 sums depend on the batch's make-up, in the last digits only.
        assert (alone.language, alone.sentiment.label, alone.intent.label) == (
            batched.language, batched.sentiment.label, batched.intent.label)  # fmt: skip
        assert alone.sentiment.scores == pytest.approx(batched.sentiment.scores, abs=1e-4)
    with ThreadPoolExecutor(4) as pool:
        assert all(r == once for r in pool.map(clf.classify, [texts] * 8))
    assert clf.classify([]) == []


def test_the_name_says_backend_and_version(clf):
    assert clf.name.startswith("offline-")


def test_a_topic_matches_by_meaning_when_no_rule_does(clf):
    (out,) = clf.classify(["the pictures at night are blurry"])  # no camera word in any rule
    assert out.topics[0][0] == "camera" and out.topics[0][1] < 1.0
