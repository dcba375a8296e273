import textwrap

import numpy as np
import pytest

from models.taxonomy import TaxonomyError, TopicMatcher, compile_rule, load_taxonomy, parse_taxonomy

GOOD = """\
threshold: 0.5
topics:
  - id: battery
    names: {en: Battery, zh: 电池}
    description: battery life
    rules: ["电池|续航|battery|charg*", "drain* & fast"]
  - id: other
    names: {en: Other}
    description: anything else
    fallback: true
"""


def test_the_shipped_taxonomy_has_the_phone_makers_topics():
    ids = [t.id for t in load_taxonomy()]
    assert ids == ["battery", "camera", "display", "performance", "os_update", "price", "after_sales",
                   "shipping", "design", "connectivity", "ads", "audio", "other"]  # fmt: skip


def test_rules_match_terms_alternatives_and_conjunctions():
    battery = parse_taxonomy(GOOD)[0]
    assert battery.rule_matches("电池不行")
    assert battery.rule_matches("Charging is slow")  # trailing * and case
    assert not battery.rule_matches("batteryless")  # Latin terms match whole words
    assert battery.rule_matches("it drains so fast")
    assert not battery.rule_matches("it drains slowly")  # "&" needs both


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (("id: battery", "id: Battery-Life"), 3, "snake_case"),
        (("    description: battery life\n", ""), 3, "no 'description'"),
        (('"电池|续航|battery|charg*"', '"电池||battery"'), 6, "empty term"),
        (("  - id: other", "  - id: battery"), 7, "duplicate topic id 'battery' \\(first on line 3\\)"),
        (("threshold: 0.5", "threshold: 2"), 1, "threshold must be in"),
        (("    fallback: true", "    colour: red"), 7, "unknown key"),
        (("names: {en: Other}", "names: []"), 8, "names must map"),
    ],
)
def test_a_bad_file_fails_with_its_line_and_reason(change, line, reason):
    with pytest.raises(TaxonomyError, match=rf"^t\.yaml:{line}: .*{reason}"):
        parse_taxonomy(GOOD.replace(*change), "t.yaml")


def test_not_yaml_or_no_topics_fails_clearly(tmp_path):
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        parse_taxonomy("topics: [", "t.yaml")
    with pytest.raises(TaxonomyError, match="'topics' must be a non-empty list"):
        parse_taxonomy("threshold: 0.5\n", "t.yaml")
    path = tmp_path / "mine.yaml"
    path.write_text(textwrap.dedent("topics:\n  - just a string\n"))
    with pytest.raises(TaxonomyError, match=r"mine\.yaml:2: a topic must be a mapping"):
        load_taxonomy(path)


def test_matching_by_rule_by_similarity_and_the_fallback():
    topics = parse_taxonomy(GOOD)
    matcher = TopicMatcher(topics, np.array([[1.0, 0.0]], dtype=np.float32))
    vectors = np.array([[0.0, 1.0], [0.8, 0.6], [0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    out = matcher.match(["电池不行", "power lasts a day", "nice colours", "  "], vectors)
    assert out == [[("battery", 1.0)], [("battery", pytest.approx(0.8))], [("other", 1.0)], []]


def test_compile_rule_rejects_an_empty_conjunct():
    with pytest.raises(ValueError, match="empty term"):
        compile_rule("battery & ")
