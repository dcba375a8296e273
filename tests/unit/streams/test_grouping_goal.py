"""Issue 23's goal for feedback items, on the grouping fixture, with the real offline classifier:
pairwise precision >= 0.9 and recall >= 0.8 across languages (docs/streams.md, "Grouping across
languages"; ``python -m bench.grouping`` prints the same figures).

The precision is reached and the recall is not: the goal's test is an expected failure, strict,
so that reaching it fails the suite until the mark goes. Meanwhile the figures reached are held.
"""

from __future__ import annotations

import pytest

from bench.grouping import Score, load_reports, pairwise, place
from canyu.settings import Settings
from models import load_classifier


@pytest.fixture(scope="module")
def across() -> Score:
    """Pairs of reports in two languages, placed by enrich and the stateful step as the worker does."""
    return pairwise(place(load_reports(), load_classifier("offline", threads=1), Settings()))["across"]


@pytest.mark.xfail(strict=True, reason="recall across languages is 0.68: the stateful step places each report "
                   "once; clustering the same vectors all at once reaches 0.913 and 0.882 here, and not "
                   "the goal on held_out (python -m bench.grouping_ceiling; docs/streams.md)")  # fmt: skip
def test_the_goal_precision_0_9_and_recall_0_8_across_languages(across: Score):
    assert across.precision >= 0.9 and across.recall >= 0.8


def test_grouping_across_languages_keeps_the_precision_and_recall_it_reached(across: Score):
    assert across.precision >= 0.9
    assert across.recall >= 0.65
