"""The cross-language grouping fixtures (tests/fixtures/grouping) have the shape bench.grouping relies on.

A broken fixture would measure something else than grouping: a bug missing a language has
no cross-language pairs, two near-identical reports measure the near-duplicate check, and
an undeclared near-miss hides what a merge of two bugs means.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import pytest

from bench.grouping import FIXTURE_FILES, LANGUAGES, load_bugs, load_reports
from canyu.dates import in_window
from canyu.settings import Settings
from canyu.writing import HAN, HANGUL
from streams.signals import SignalConfig
from streams.simhash import distance, fingerprint_of

REPORTS = load_reports()
BUGS = load_bugs()
HELD_OUT = load_reports(FIXTURE_FILES["held_out"][0])
HELD_OUT_BUGS = load_bugs(FIXTURE_FILES["held_out"][1])
# (reports, bugs, at least this many bugs): the one tuned on, and the one held out from tuning.
FIXTURES = pytest.mark.parametrize(
    "reports, bugs, size", [(REPORTS, BUGS, 20), (HELD_OUT, HELD_OUT_BUGS, 12)], ids=["main", "held_out"]
)


@FIXTURES
def test_bugs_each_reported_in_chinese_korean_and_english(reports, bugs, size):
    by_bug: dict[str, Counter] = {}
    for r in reports:
        by_bug.setdefault(r.bug, Counter())[r.lang] += 1
    assert len(by_bug) >= size and len(reports) >= 3 * size
    assert {bug: set(langs) for bug, langs in by_bug.items()} == {bug: set(LANGUAGES) for bug in by_bug}
    # Some bugs twice in one language: a forum post and a micro-blog post, worded differently.
    assert sum(max(langs.values()) >= 2 for langs in by_bug.values()) >= size // 2


def test_the_held_out_bugs_are_other_bugs_in_other_posts():
    assert not set(HELD_OUT_BUGS) & set(BUGS)
    assert not {r.post.id for r in HELD_OUT} & {r.post.id for r in REPORTS}
    assert not {r.post.author.id for r in HELD_OUT} & {r.post.author.id for r in REPORTS}


@FIXTURES
def test_post_ids_are_unique_and_every_report_is_a_dated_post(reports, bugs, size):
    ids = [r.post.id for r in reports]
    assert len(set(ids)) == len(ids)
    settings = Settings()
    assert all(in_window(r.post.created_at, r.post.fetched_at, settings) for r in reports)
    assert len({r.post.created_at.date() for r in reports}) >= 3  # spread over days, as reports come
    assert len({r.post.author.id for r in reports}) == len(reports)  # one report per person
    assert {r.post.source for r in reports} == {"forum", "microblog"}
    assert all(r.post.title for r in reports if r.post.source == "forum")


@FIXTURES
@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_report_is_written_in_its_language(reports, bugs, size, lang):
    for r in (r for r in reports if r.lang == lang):
        text = r.post.full_text
        han, hangul = len(HAN.findall(text)), len(HANGUL.findall(text))
        assert {"zh": han > 5 and hangul == 0, "ko": hangul > 5 and han == 0, "en": han + hangul == 0}[lang], r.post.id


@FIXTURES
def test_near_misses_are_declared_both_ways_between_bugs_of_one_component(reports, bugs, size):
    assert set(bugs) == {r.bug for r in reports}
    pairs = {tuple(sorted((bug, other))) for bug, b in bugs.items() for other in b.near_misses}
    for a, b in pairs:
        assert a != b and a in bugs[b].near_misses and b in bugs[a].near_misses, (a, b)
        assert bugs[a].component == bugs[b].component, (a, b)
    assert len(pairs) >= 5


@FIXTURES
def test_no_two_reports_are_near_duplicates(reports, bugs, size):
    """A near-duplicate is counted as its original and joins no item: it would measure the wrong thing."""
    config = SignalConfig()
    prints = [(r.post.id, fingerprint_of(r.post.full_text, config.near_dup_min_features)) for r in reports]
    assert all(fp is not None for _, fp in prints)  # every report has enough words to be told apart
    close = [(a, b) for (a, fa), (b, fb) in combinations(prints, 2) if distance(fa, fb) <= config.near_dup_distance]
    assert close == []


def test_a_line_that_is_not_a_report_is_refused_with_its_line_number(tmp_path):
    path = tmp_path / "reports.jsonl"
    first = REPORTS[0]
    path.write_text(f'{{"bug": "{first.bug}", "lang": "{first.lang}", {first.post.model_dump_json()[1:]}\n')
    assert load_reports(path) == [first]
    with path.open("a") as f:
        f.write('{"bug": "x", "text": "a report without its language"}\n')
    with pytest.raises(ValueError, match=r"reports\.jsonl:2: not a bug report"):
        load_reports(path)
