import pytest

from models.langid import LanguageIdentifier, cjk_language


@pytest.fixture(scope="module")
def langid():
    return LanguageIdentifier()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("电池续航太差了", "zh"),
        ("카메라 정말 좋아요", "ko"),
        ("バッテリーの持ちが悪い", "ja"),
        ("please add call recording to the dialer", "en"),
        ("la batería dura muy poco, estoy decepcionado", "es"),
        ("小米14的camera真的很好", "zh"),  # Chinese with an English word
        ("업데이트 후 wifi 안됨", "ko"),
        ("I really love the new camera on this phone 手机", "en"),  # English with a Chinese word
        ("😀🔥👍", "und"),
        ("12345 !!!", "und"),
        ("", "und"),
    ],
)
def test_languages_including_mixed_scripts(langid, text, language):
    assert langid.detect([text]) == [language]


def test_cjk_counts_characters_against_latin_words():
    assert cjk_language("iPhone 15 Pro 的电池 drain 太快了") == "zh"
    assert cjk_language("the battery of my new phone drains fast 电池") is None
    assert cjk_language("no cjk at all") is None
