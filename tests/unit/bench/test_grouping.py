"""bench.grouping's pairwise figures, on a handful of placed reports whose answer is worked out by hand."""

from __future__ import annotations

from bench.grouping import Bug, Placed, Report, merged, missed, pairwise, per_language
from tests.unit.streams.factories import post


def placed(n: int, bug: str, lang: str, item: str | None) -> Placed:
    p = post(n, f"report {n}", intent="bug_report")
    return Placed(Report(bug, lang, p), p, item)


# a and b (one bug, zh and ko) joined item x, c (the same bug, en) joined none, d (another bug, en) joined x.
A, B = placed(1, "wifi", "zh", "x"), placed(2, "wifi", "ko", "x")
C, D = placed(3, "wifi", "en", None), placed(4, "nfc", "en", "x")


def test_pairs_are_together_when_they_joined_one_item_and_a_report_without_one_is_with_none():
    scores = pairwise([A, B, C, D])
    overall = scores["overall"]  # together: ab ad bd; share a bug: ab ac bc
    assert (overall.together, overall.right, overall.same_bug) == (3, 1, 3)
    assert overall.precision == overall.recall == 1 / 3
    assert (scores["across"].together, scores["across"].same_bug) == (3, 3)  # every pair but cd
    assert scores["within"].precision is None and scores["within"].recall is None  # cd: apart, two bugs
    assert (scores["zh-ko"].right, scores["zh-en"].same_bug, scores["ko-en"].together) == (1, 1, 1)


def test_pairs_apart_and_pairs_merged_are_told_by_reason_and_bugs():
    assert missed([A, B, C, D]) == {"within": {}, "across": {"no item": 2}}
    bugs = {"wifi": Bug("wifi", "", ("nfc",)), "nfc": Bug("wifi", "", ("wifi",))}
    assert merged([A, B, C, D], bugs) == {("nfc", "wifi", True): 2}


def test_labels_are_counted_per_language_the_report_is_written_in():
    assert per_language([A, B, C, D], lambda post: post.intent.label) == {
        "zh": {"bug_report": 1},
        "ko": {"bug_report": 1},
        "en": {"bug_report": 2},
    }
