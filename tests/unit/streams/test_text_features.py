import pytest

from streams.products import Catalogue, CatalogueError
from streams.simhash import bands, distance, normalise, simhash


def test_normalising_ignores_case_width_links_mentions_and_punctuation():
    assert normalise("ＭＩ 14 Battery!!! https://x.example/a @lei #tag") == "mi 14 battery"


def test_near_duplicates_are_close_and_different_posts_are_far():
    a = simhash("After the HyperOS 1.0.7 update my battery drains overnight, lost 40 percent while idle")
    b = simhash("after the hyperos 1.0.7 update my battery drains overnight!! lost 40 percent while idle")
    c = simhash("The night mode photos from this camera are amazing, sharp and bright even indoors")
    assert distance(a, b) <= 3
    assert distance(a, c) > 10


def test_chinese_near_duplicates_are_found_without_spaces():
    a = simhash("升级澎湃OS 1.0.7之后电池掉电特别快，一晚上掉了百分之四十")
    b = simhash("升级澎湃OS 1.0.7之后电池掉电特别快！一晚上掉了百分之四十")
    assert distance(a, b) <= 3


def test_near_duplicates_share_a_band():
    a, b = 0xFFFF_0000_FFFF_0000, 0xFFFF_0000_FFFF_0007  # 3 bits apart
    assert set(bands(a, 4)) & set(bands(b, 4))


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load()


@pytest.mark.parametrize(
    ("text", "products"),
    [
        ("小米14的续航怎么样", ["xiaomi-14"]),
        ("샤오미 14 카메라 좋아요", ["xiaomi-14"]),
        ("my mi14 and my Mi 14 Pro", ["xiaomi-14", "xiaomi-14-pro"]),
        ("Xiaomi 14 Pro battery", ["xiaomi-14-pro"]),  # the longer alias wins
        ("MIUI 15 or HyperOS?", ["hyperos", "miui-15"]),
        ("Mi 140 is not a phone", []),
        ("nothing here", []),
    ],
)
def test_product_mentions_in_three_languages(catalogue, text, products):
    assert catalogue.mentions(text) == products


def test_a_bad_catalogue_names_the_problem(tmp_path):
    path = tmp_path / "products.yaml"
    path.write_text("products:\n  - id: a\n    names: {en: [Mi 14]}\n  - id: b\n    names: {en: [mi14]}\n")
    with pytest.raises(CatalogueError, match="names both 'a' and 'b'"):
        Catalogue.load(path)
    path.write_text("products:\n  - names: {en: [x]}\n")
    with pytest.raises(CatalogueError, match=r"products\[0\] needs an 'id'"):
        Catalogue.load(path)
