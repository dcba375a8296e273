"""Phone talk that the offline default once got wrong (issue 12), kept right.

Each post is from the sample corpus (``canyu/sample/posts.jsonl``), where a community
manager saw the wrong label on the dashboard and in ``canyu search``.
"""

import pytest

from models import load_classifier
from models.lexicon import LexiconClassifier

WIFI_WARNING = (
    "【提醒】最近收到很多粉丝反馈，小米14升级HyperOS 1.0.6.0后出现wifi频繁断开、后台应用被杀的问题。"
    "还没升的建议等下一个版本；已经升了的可以先试试“重置网络设置”。#HyperOS# #小米14#"
)
BATTERY_PRAISE = (
    "Redmi Note 13 battery is honestly unreal. Two full days of light use on one charge. "
    "Didn't expect that from a $200 phone 🔋"
)
ADS_TIP = "광고는 각 앱 설정에서 '맞춤 추천' 끄면 거의 안 나와요"
QUESTION = "how do you get the battery percentage inside the icon on HyperOS? the setting seems to have moved"
UPDATE_POLICY = "Be aware the update policy is shorter than Samsung or Google. For me the price gap isn't worth it."

# (post, sentiment, intent, topics it must have)
CASES = [
    (WIFI_WARNING, "negative", "bug_report", {"os_update", "connectivity"}),  # was positive
    (BATTERY_PRAISE, "positive", "praise", {"battery"}),  # was negative
    (ADS_TIP, "neutral", "other", {"ads"}),  # was positive, a feature request
    (QUESTION, "neutral", "question", {"battery"}),  # was negative
    (UPDATE_POLICY, "negative", "complaint", {"os_update", "price"}),  # was positive
]


@pytest.fixture(scope="module")
def clf():
    return load_classifier("offline")


@pytest.mark.parametrize(("text", "sentiment", "intent", "topics"), CASES, ids=lambda v: str(v)[:24])
def test_phone_talk_comes_out_right(clf, text, sentiment, intent, topics):
    (out,) = clf.classify([text])
    assert (out.sentiment.label, out.intent.label) == (sentiment, intent), out
    assert topics <= {t for t, _ in out.topics}


def test_the_five_come_out_right_in_one_batch_too(clf):
    out = clf.classify([text for text, *_ in CASES])
    assert [(c.sentiment.label, c.intent.label) for c in out] == [(s, i) for _, s, i, _ in CASES]


@pytest.mark.parametrize(
    ("text", "positive", "negative"),
    [
        ("For me the price gap isn't worth it.", 0, 1),  # a negated positive counts against
        ("it is not great", 0, 1),
        ("不好用", 0, 1),
        ("没问题", 0, 0),  # a negated negative counts for neither
        ("worth every penny", 1, 0),
    ],
)
def test_negated_cue_words_do_not_count_for_their_side(text, positive, negative):
    cues = LexiconClassifier().cues(text)
    assert (cues["positive"], cues["negative"]) == (positive, negative)
