"""Versions in posts (models/versions.yaml): what is a version, in zh, ko and en, and what is not."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from canyu.versions import SOFTWARE_LINES
from models import VersionFinder, VersionRulesError
from models.versions import parse_rules
from streams.products import Catalogue

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def finder() -> VersionFinder:
    return VersionFinder.load()


def found(finder: VersionFinder, text: str, products: list[str] | None = None) -> list[tuple[str, str, str | None]]:
    return [(m.line, m.version, m.product) for m in finder.find(text, products or [])]


# text, the catalogue products it mentions, and the versions it names: (line, version, product)
VERSIONS = [
    # HyperOS, by its names in three languages, its own spelling, and its shape alone
    ("小米14 升级 HyperOS 1.0.6.0 后 WiFi 频繁断开", ["hyperos", "xiaomi-14"], [("hyperos", "1.0.6.0", "xiaomi-14")]),
    ("系统版本：HyperOS 1.0.6.0.UNCCNXM（从1.0.5.0 OTA升级）", [],
     [("hyperos", "1.0.6.0", None), ("hyperos", "1.0.5.0", None)]),
    ("刚升级澎湃OS 1.0.7.0，两个小时掉了35%的电", ["hyperos"], [("hyperos", "1.0.7.0", None)]),
    ("澎湃系统1.0.7.1 修好了耗电", ["hyperos"], [("hyperos", "1.0.7.1", None)]),
    ("하이퍼OS 1.0.7.0 업데이트 후 배터리 광탈", ["hyperos"], [("hyperos", "1.0.7.0", None)]),
    ("Xiaomi 14, EU, OS1.0.7.0.UNCEUXM. About 11% an hour", ["xiaomi-14"], [("hyperos", "1.0.7.0", "xiaomi-14")]),
    ("Rolled back to 1.0.6.0 with the full ROM", [], [("hyperos", "1.0.6.0", None)]),
    ("1.0.7.1 패치 떴어요! 밤새 4%만 빠졌네요", [], [("hyperos", "1.0.7.1", None)]),
    ("ＨｙｐｅｒＯＳ　１．０．７．０ 耗电", [], [("hyperos", "1.0.7.0", None)]),
    ("HyperOS 2 终于推送了", [], [("hyperos", "2.0", None)]),
    # the other OS lines; a major alone is a version right after the line's name
    ("从MIUI 15升级到HyperOS 1.0.5.0", ["miui-15", "xiaomi-14"],
     [("miui", "15.0", "xiaomi-14"), ("hyperos", "1.0.5.0", "xiaomi-14")]),
    ("MIUI V14.0.8.0.TMACNXM 用了一年", [], [("miui", "14.0.8.0", None)]),
    ("미유아이 14 쓸 때가 나았어요", [], [("miui", "14.0", None)]),
    ("Galaxy S24: One UI 6.1 update broke the always-on display", [], [("oneui", "6.1", None)]),
    ("원 UI 6.1 업데이트 후 발열이 심해요", [], [("oneui", "6.1", None)]),
    ("OneUI 6.1.1 好用", [], [("oneui", "6.1.1", None)]),
    ("iPhone 15 on iOS 17.5.1, then iOS 17", [], [("ios", "17.5.1", None), ("ios", "17.0", None)]),
    ("Android 14 beta drains the battery", [], [("android", "14.0", None)]),
    ("安卓14 的通知权限太烦了", [], [("android", "14.0", None)]),
    ("안드로이드 14 업데이트 언제 와요?", [], [("android", "14.0", None)]),
    ("ColorOS 14 和 OriginOS 4 哪个好", [], [("coloros", "14.0", None), ("originos", "4.0", None)]),
    ("HarmonyOS 4.2, 鸿蒙4.0 and 鸿蒙系统 3.1", [],
     [("harmonyos", "4.2", None), ("harmonyos", "4.0", None), ("harmonyos", "3.1", None)]),
    # app versions: a cue before the number or after it
    ("相机 v3.2.1 一打开就闪退", [], [("app", "3.2.1", None)]),
    ("版本3.2.1 还是不能登录", [], [("app", "3.2.1", None)]),
    ("版本：3.2.1", [], [("app", "3.2.1", None)]),
    ("版本号 3.2.1 有问题", [], [("app", "3.2.1", None)]),
    ("버전 3.2.1 에서 로그인 오류", [], [("app", "3.2.1", None)]),
    ("The app crashes since it updated to 2.0.12", [], [("app", "2.0.12", None)]),
    ("App version: 2.0.12 on a Redmi K70", ["redmi-k70"], [("app", "2.0.12", "redmi-k70")]),
    ("升级到2.0.12后就打不开了", [], [("app", "2.0.12", None)]),
    ("2.0.12 업데이트 후 알림이 안 와요", [], [("app", "2.0.12", None)]),
    ("2.0.12로 업데이트했더니 느려졌어요", [], [("app", "2.0.12", None)]),
    ("the 2.0.12 update broke widgets", [], [("app", "2.0.12", None)]),
    ("ver.3.2.1 and V 3.2.2", [], [("app", "3.2.1", None), ("app", "3.2.2", None)]),
    # once each (1.0.7 and 1.0.7.0 are one release point), in order; several phones: no product
    ("HyperOS 1.0.7 又耗电, 1.0.7.0 真的不行, HyperOS 1.0.7.0", [], [("hyperos", "1.0.7", None)]),
    ("小米14和K70都升级了HyperOS 1.0.6.0", ["redmi-k70", "xiaomi-14"], [("hyperos", "1.0.6.0", None)]),
    ("1.0.6.0,1.0.7.0 都试过", [], [("hyperos", "1.0.6.0", None), ("hyperos", "1.0.7.0", None)]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "products", "versions"), VERSIONS)
def test_versions_in_zh_ko_and_en(finder, text, products, versions):
    assert found(finder, text, products) == versions


NOT_VERSIONS = [
    # prices
    "只要1.299元", "$1,099.99", "₩1,290,000", "1299.00元", "到手价 1,299.00 元", "US$ 1.99", "¥3.5 一杯",
    # dates
    "2024.05.06 发布", "2024.5.6", "双11.11 活动", "版本 2024.05.06", "version 2024.5",
    # model names
    "14 Pro 太香了", "Redmi Note 13 真香", "Redmi K70", "Xiaomi 14 Ultra", "갤럭시 S24 울트라",
    # phone numbers
    "客服电话 138.0013.8000", "010-1234-5678", "call 400-100-5678",
    # scores
    "4.5/5", "评分 4.5 / 5", "给8.5分", "9.5分", "별점 4.5점", "4.5 stars",
    # IP addresses, percentages, times, amounts
    "IP 192.168.1.1", "DNS 1.0.0.1", "8.8.8.8", "电量 35%", "掉了1.5%", "12:30", "12.30pm", "3.2倍长焦",
    "6.67英寸", "续航 2.5天", "5.5 hours of screen time", "2.5 시간", "120Hz", "90.5W 快充",
    # a cue or a line's name with a number that is no version
    "电池健康度更新到 98.5%", "评分升到9.5分", "价格升到1.5万", "updated to 2.5x zoom",
    "用了HyperOS 2个月", "Two things in HyperOS:\n\n1. Per-app refresh rate", "HyperOS 2nd anniversary",
    "Android Auto drops out every 10 minutes", "iOS 17 days later",
    # a number with no name, shape or cue
    "3.2 and 4.1", "1.5 GB free", "12345.6", "1.2.3.4.5.6", "bios 1.2", "rev3.2.1",
]  # fmt: skip


@pytest.mark.parametrize("text", NOT_VERSIONS)
def test_prices_dates_models_phone_numbers_scores_and_amounts_are_not_versions(finder, text):
    assert found(finder, text) == []


def test_a_version_beside_a_price_a_date_and_a_model_is_found_alone(finder):
    text = "2024.05.06 买的小米14 Pro，到手价 4,999.00元，评分4.5/5，升级 HyperOS 1.0.7.0 后掉电"
    assert found(finder, text, ["hyperos", "xiaomi-14-pro"]) == [("hyperos", "1.0.7.0", "xiaomi-14-pro")]


def test_each_mention_carries_its_tag(finder):
    (mention,) = finder.find("升级 HyperOS 1.0.7.0", ["xiaomi-14"])
    assert mention.tag == "hyperos 1.0.7.0"


def test_the_sample_corpus_names_hyperos_versions_and_every_one_is_found(finder):
    """Every HyperOS build the sample names (written 1.0.x.y, alone or after its name) is found, and
    nothing else is but the MIUI versions it names."""
    catalogue = Catalogue.load()
    hyperos, others = set(), set()
    for line in (ROOT / "canyu" / "sample" / "posts.jsonl").read_text(encoding="utf-8").splitlines():
        post = json.loads(line)
        text = f"{post.get('title') or ''}\n{post['text']}"
        mentions = finder.find(text, catalogue.mentions(text))
        named = {m.version for m in mentions if m.line == "hyperos"}
        assert named == set(re.findall(r"(?<![0-9.])[12]\.0\.[0-9]+\.[0-9]+", text)), text
        hyperos |= named
        others |= {m.tag for m in mentions if m.line != "hyperos"}
    assert hyperos == {"1.0.5.0", "1.0.6.0", "1.0.7.0", "1.0.7.1"}
    assert others == {"miui 14.0", "miui 15.0"}


def test_line_ids_are_the_contracts_software_lines_and_the_catalogues_product_ids(finder):
    lines = [line.id for line in finder.lines]
    assert (*lines, "app") == SOFTWARE_LINES
    catalogue = set(Catalogue.load().aliases.values())
    assert "hyperos" in catalogue and set(lines) & catalogue == {"hyperos"}


GOOD = """\
lines:
  - id: hyperos
    names: {zh: [澎湃OS], en: [HyperOS]}
    joined: [OS]
    shape: '1\\.0\\.[0-9]+\\.[0-9]+'
  - id: miui
    names: {en: [MIUI]}
app:
  before: [v]
  after: [update]
not_versions:
  before: [$]
  after: ['%']
  shapes: ['20[0-9]{2}\\.[0-9]+']
"""


def test_a_small_rules_file_finds_by_name_joined_name_shape_and_cue():
    finder = parse_rules(GOOD, "v.yaml")
    text = "HyperOS 1.0.7.0, OS1.0.8.0, 1.0.9.0, MIUI 14, v3.2.1, 4.0.1 update, $1.5, 2.5%, v2024.5"
    assert [m.tag for m in finder.find(text)] == [
        "hyperos 1.0.7.0", "hyperos 1.0.8.0", "hyperos 1.0.9.0", "miui 14.0", "app 3.2.1", "app 4.0.1",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (("id: miui", "id: MIUI!"), 6, "line id 'MIUI!' must be lower-case"),
        (("id: miui", "id: app"), 6, "and not 'app'"),
        (("id: miui", "id: hyperos"), 6, "duplicate line id 'hyperos' \\(first on line 2\\)"),
        (("{en: [MIUI]}", "{en: [Hyper OS]}"), 6, "the name 'Hyper OS' is also 'hyperos''s \\(line 2\\)"),
        (("{en: [MIUI]}", "{en: []}"), 7, "names must map language codes"),
        (("{en: [MIUI]}", "{en: [MIUI, '']}"), 7, "names.en must be a list of non-empty strings"),
        (("    names: {en: [MIUI]}\n", ""), 6, "needs an 'id' and its 'names'"),
        (("joined: [OS]", "colour: red"), 2, "unknown key\\(s\\) \\['colour'\\] in a line"),
        (("shape: '1", "shape: '(1"), 5, "shape .* is not a regular expression"),
        (("shape: '1\\.0\\.[0-9]+\\.[0-9]+'", "shape: '[0-9]*'"), 5, "matches the empty string"),
        (("after: [update]", "after: update"), 10, "app.after must be a list"),
        (("  shapes: ['20[0-9]{2}\\.[0-9]+']", "  shapes: '20'"), 14, "not_versions.shapes must be a list"),
        (("  shapes: ['20[0-9]{2}\\.[0-9]+']", "  shapes: ['[']"), 14, "is not a regular expression"),
        (("not_versions:", "not_version:"), 1, "unknown key\\(s\\) \\['not_version'\\] in the file"),
    ],
)
def test_a_bad_file_fails_with_its_line_and_reason(change, line, reason):
    assert change[0] in GOOD
    with pytest.raises(VersionRulesError, match=rf"^v\.yaml:{line}: .*{reason}"):
        parse_rules(GOOD.replace(*change), "v.yaml")


def test_not_yaml_no_lines_or_no_file_fails_clearly(tmp_path):
    with pytest.raises(VersionRulesError, match="not valid YAML"):
        parse_rules("lines: [", "v.yaml")
    with pytest.raises(VersionRulesError, match="v.yaml:1: 'lines' must be a non-empty list"):
        parse_rules("app: {before: [v]}\n", "v.yaml")
    with pytest.raises(VersionRulesError, match="v.yaml:1: the file must be a mapping"):
        parse_rules("", "v.yaml")
    path = tmp_path / "mine.yaml"
    path.write_text("lines:\n  - just a string\n", encoding="utf-8")
    with pytest.raises(VersionRulesError, match=r"mine\.yaml:2: a line must be a mapping"):
        VersionFinder.load(path)
