"""bench.grouping_ceiling's clustering and ordering, on similarities small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bench.grouping_ceiling import agglomerate, centred, merged_items, ordering
from tests.unit.bench.test_grouping import placed

# a-b and c-d are close pairs; b-c is closer than anything else across the pairs, a-d far apart.
SIMILARITY = np.array([
    [1.0, 0.9, 0.3, 0.0],
    [0.9, 1.0, 0.6, 0.3],
    [0.3, 0.6, 1.0, 0.8],
    [0.0, 0.3, 0.8, 1.0],
])  # fmt: skip


def groups(labels: list[int]) -> set[frozenset[int]]:
    return {frozenset(i for i, label in enumerate(labels) if label == wanted) for wanted in set(labels)}


def test_the_two_pairs_form_first_and_a_threshold_above_their_link_keeps_them_apart():
    assert groups(agglomerate(SIMILARITY, 0.5, "average")) == {frozenset({0, 1}), frozenset({2, 3})}
    assert groups(agglomerate(SIMILARITY, 0.85, "average")) == {frozenset({0, 1}), frozenset({2}), frozenset({3})}


def test_average_linkage_joins_the_pairs_on_their_mean_similarity_and_complete_on_their_least():
    # the pairs' four cross similarities: 0.3, 0.0, 0.6, 0.3: mean 0.3, least 0.0
    assert groups(agglomerate(SIMILARITY, 0.3, "average")) == {frozenset({0, 1, 2, 3})}
    assert len(groups(agglomerate(SIMILARITY, 0.31, "average"))) == 2
    assert len(groups(agglomerate(SIMILARITY, 0.01, "complete"))) == 2
    assert groups(agglomerate(SIMILARITY, 0.0, "complete")) == {frozenset({0, 1, 2, 3})}


def test_an_unknown_linkage_is_refused():
    with pytest.raises(ValueError, match="unknown linkage 'single'"):
        agglomerate(SIMILARITY, 0.5, "single")


def test_centring_takes_each_languages_mean_away_and_leaves_unit_rows():
    vectors = np.array([[1.0, 1.0], [1.0, 3.0], [5.0, 0.0], [7.0, 0.0]])
    out = centred(vectors, ["zh", "zh", "ko", "ko"])
    assert np.allclose(out, [[0, -1], [0, 1], [-1, 0], [1, 0]])


def test_ordering_counts_pairs_across_languages_only_and_each_reports_nearest_other_language():
    bugs, languages = ["x", "x", "y", "y"], ["zh", "ko", "zh", "ko"]
    # across languages: same bug (0,1)=0.9, (2,3)=0.8; different bugs (0,3)=0.0, (1,2)=0.6: all four ordered right
    ordered, nearest = ordering(SIMILARITY, bugs, languages)
    assert ordered == 1.0
    assert nearest == 1.0
    similarity = SIMILARITY.copy()
    similarity[1, 2] = similarity[2, 1] = 0.85  # now above (2,3): one of four orderings wrong, and 2's nearest is 1
    ordered, nearest = ordering(similarity, bugs, languages)
    assert ordered == 0.75
    assert nearest == 0.75


def test_average_linkage_weighs_each_row_by_the_members_it_stands_for():
    # Row 1 stands for three members: {0,1} then has mean 0.6 to row 2, (1 x 0.3 + 3 x 0.6) / 4 = 0.525.
    labels = agglomerate(SIMILARITY, 0.5, "average", sizes=np.array([1, 3, 1, 1]))
    assert groups(labels) == {frozenset({0, 1}), frozenset({2, 3})}
    assert groups(agglomerate(SIMILARITY[:3, :3], 0.5, "average", sizes=np.array([1, 3, 1]))) == {frozenset({0, 1, 2})}
    assert len(groups(agglomerate(SIMILARITY[:3, :3], 0.5, "average"))) == 2  # unweighted: (0.3 + 0.6) / 2 = 0.45


def test_merging_items_joins_the_items_of_one_bug_and_keeps_a_report_in_no_item_out():
    # wifi in zh and ko opened two items, nfc a third; one more wifi report joined no item.
    reports = [placed(1, "wifi", "zh", "a"), placed(2, "wifi", "ko", "b"), placed(3, "nfc", "en", "c"),
               placed(4, "wifi", "en", None)]  # fmt: skip
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [1.0, 0.0]])
    threshold, across = merged_items(reports, vectors)
    # wifi's zh-ko pair is together, its two pairs with the report in no item are not, and nfc joins no one
    assert (across.together, across.right, across.same_bug) == (1, 1, 3)
    assert threshold > 0.3  # at 0.3 or below, nfc's item joins wifi's two: (0.0 + 0.6) / 2
    assert merged_items([placed(1, "wifi", "zh", None)], vectors[:1]) is None
