from concurrent.futures import ThreadPoolExecutor

import pytest

from models import load_classifier
from models.lexicon import detect_script_language


@pytest.fixture(scope="module")
def clf():
    return load_classifier("lexicon")


@pytest.mark.parametrize(
    ("text", "language", "sentiment", "intent", "topic"),
    [
        ("电池续航太差了", "zh", "negative", "complaint", "battery"),
        ("카메라 정말 좋아요", "ko", "positive", "praise", "camera"),
        ("please add call recording", "en", "neutral", "feature_request", None),
        ("App crashes after the update and the battery drains fast", "en", "negative", "bug_report", "battery"),
        ("希望增加通话录音功能", "zh", "neutral", "feature_request", None),
        ("업데이트 후 와이파이가 계속 끊겨요", "ko", "negative", "bug_report", "connectivity"),
        ("怎么关闭自动更新？", "zh", "neutral", "question", "os_update"),
    ],
)
def test_obvious_posts(clf, text, language, sentiment, intent, topic):
    (out,) = clf.classify([text])
    assert (out.language, out.sentiment.label, out.intent.label) == (language, sentiment, intent)
    if topic:
        assert topic in [t for t, _ in out.topics]


@pytest.mark.parametrize("text", ["", "   ", "\u200d\u200d", "🔋🔋🔋"])
def test_empty_or_wordless_text_is_und_neutral_other(clf, text):
    (out,) = clf.classify([text])
    assert (out.language, out.sentiment.label, out.intent.label) == ("und", "neutral", "other")


def test_scores_cover_every_label_and_sum_to_one(clf):
    (out,) = clf.classify(["great camera but the battery drains"])
    assert set(out.sentiment.scores) == {"negative", "neutral", "positive"}
    assert set(out.intent.scores) == {"bug_report", "feature_request", "question", "complaint", "praise", "other"}
    assert sum(out.sentiment.scores.values()) == pytest.approx(1, abs=1e-4)
    assert sum(out.intent.scores.values()) == pytest.approx(1, abs=1e-4)


def test_batched_deterministic_and_thread_safe(clf):
    texts = ["电池续航太差了", "카메라 정말 좋아요", "please add call recording"] * 20
    first = clf.classify(texts)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: clf.classify(texts), range(8)))
    assert all(r == first for r in results)
    assert len(first) == len(texts)


def test_very_long_text_is_truncated_not_crashed_on(clf):
    (out,) = clf.classify(["battery " * 20_000])
    assert out.language == "en"


def test_script_language_handles_mixed_scripts():
    assert detect_script_language("小米14 的 camera 太好了") == "zh"
    assert detect_script_language("샤오미 14 camera 좋아요") == "ko"
    assert detect_script_language("カメラが最高です") == "ja"
    assert detect_script_language("12345 !!!") == "und"
