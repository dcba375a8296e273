"""canyu.versions: the normalised version every room agrees on, and how versions compare."""

from __future__ import annotations

import pytest

from canyu.schema import VersionMention
from canyu.versions import at_least, parse_version, version_key


@pytest.mark.parametrize(
    ("typed", "normalised"), [("1.0.7.0", "1.0.7.0"), ("v3.2.1", "3.2.1"), (" V 2.0.12 ", "2.0.12"), ("01.02", "1.2")]
)
def test_what_people_type_becomes_one_normalised_version(typed, normalised):
    assert parse_version(typed) == normalised


@pytest.mark.parametrize("typed", ["", "7", "1.0.7.0.UNCCNXM", "latest", "1..2", "1.0.7.0.1.2", "１.０"])
def test_what_is_not_a_version_is_refused_with_its_name(typed):
    with pytest.raises(ValueError, match="is not a version"):
        parse_version(typed)


def test_versions_compare_as_numbers_and_trailing_zeros_are_the_same_point():
    assert at_least("1.0.10", "1.0.9")
    assert not at_least("1.0.9", "1.0.10")
    assert version_key("1.0.7") == version_key("1.0.7.0")
    assert at_least("1.0.7", "1.0.7.0") and at_least("1.0.7.0", "1.0.7")


def test_a_mention_carries_its_tag_for_the_index():
    mention = VersionMention(line="hyperos", version="1.0.7.0", product="xiaomi-14")
    assert mention.tag == "hyperos 1.0.7.0"
    assert VersionMention.model_validate_json(mention.model_dump_json()) == mention


def test_a_major_alone_is_a_version_only_where_the_line_is_named_with_it():
    assert parse_version("14", major_alone=True) == "14.0"
    assert parse_version("v 017", major_alone=True) == "17.0"
    assert parse_version("17.5", major_alone=True) == "17.5"
    assert version_key(parse_version("14", major_alone=True)) == version_key("14.0.0")
    with pytest.raises(ValueError, match="is not a version"):
        parse_version("14")
    with pytest.raises(ValueError, match="is not a version"):
        parse_version("14 Pro", major_alone=True)
