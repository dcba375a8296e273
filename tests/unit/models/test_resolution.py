"""models.ResolutionCues: whether a post says the problem it is about is gone, in zh, ko and en."""

from __future__ import annotations

import pytest

from models import ResolutionCues

SAID = [
    "1.0.7.1 is out and fixed it. 3% overnight on my 14.",
    "Update for anyone who finds this thread: HyperOS 1.0.7.0 sorted it out for me.",
    "Installed, can confirm the drain is fixed",
    "官方已经推送1.0.7.1，升完待机一晚只掉了4%，问题解决，大家可以放心升了。",
    "升级1.0.7.0两天了，一次都没断过。这个问题算是解决了，感谢大家。",
    "1.0.7.1 패치 나왔어요! 설치하고 밤새 4%만 빠졌습니다. 이제 정상인 듯",
    "위치 권한 정리하고 5G 끄니까 밤 10시에 40% 남았어요. 해결! 감사합니다",
    "升完观察了一晚上只掉了4%，终于正常了",
    "Thanks all. Marked as solved. If you're still seeing drain on 1.0.7.1, start a new thread.",  # still, later
]
NOT_SAID = [
    "WiFi drops every 10 minutes since 1.0.6.0",  # no cue
    "not fixed on 1.0.7.1",  # negated
    "还没解决",
    "Is it fixed on 1.0.7.1?",  # asked: the dots of a version end no sentence
    "修好了吗",
    "hope they get it fixed soon",  # a hope, a condition, hearsay
    "希望下个版本修好了",
    "해결됐으면 좋겠어요",
    "The changelog said this was fixed.",
    "a reboot fixed it for a few hours",  # for a while
    "Switching the audio to the phone fixes it.",  # a workaround: the bug is still there
    "更新后就不正常了",
    "Changelog says it's resolved but it still drains 10% an hour",  # still, after it
    "1.0.7.0 修好了，但是过了两天又开始断",
    "1.0.7.1 해결됐다고 해서 깔았는데 아직도 꺼져요",
]


@pytest.fixture(scope="module")
def cues() -> ResolutionCues:
    return ResolutionCues.load()


@pytest.mark.parametrize("text", SAID)
def test_a_post_that_says_its_problem_is_gone(cues, text):
    assert cues.says_resolved(text)


@pytest.mark.parametrize("text", NOT_SAID)
def test_a_cue_negated_asked_hoped_for_or_followed_by_still_says_nothing(cues, text):
    assert not cues.says_resolved(text)


def test_a_file_without_its_lists_is_named_with_what_it_lacks(tmp_path):
    bad = tmp_path / "resolution.yaml"
    bad.write_text("cues:\n  en: [fixed]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"resolution\.yaml: needs cues, before, after, still"):
        ResolutionCues.load(bad)
    bad.write_text("cues: {en: []}\nbefore: {}\nafter: {}\nstill: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no cues"):
        ResolutionCues.load(bad)
