"""The item state machine (canyu.lifecycle): what each change leads to, and what it refuses."""

from __future__ import annotations

import pytest

from canyu.lifecycle import HISTORY, InvalidChange, apply
from canyu.schema import ItemChange


def test_an_item_goes_from_open_to_acknowledged_to_fixed_in_a_version():
    acked = apply(None, "item-1", ItemChange(action="ack", note="looking"))
    assert acked.state == "acknowledged" and acked.fixed_in is None
    fixed = apply(acked, "item-1", ItemChange(action="fix", version="1.0.7.0", note="wifi driver"))
    assert fixed.state == "fixed" and fixed.fixed_in == "1.0.7.0"
    assert [c.action for c in fixed.history] == ["ack", "fix"]
    assert fixed.history[0].note == "looking"


def test_a_fix_that_slipped_moves_to_a_later_version():
    fixed = apply(None, "item-1", ItemChange(action="fix", version="1.0.7.0"))
    moved = apply(fixed, "item-1", ItemChange(action="fix", version="1.0.8.0"))
    assert moved.state == "fixed" and moved.fixed_in == "1.0.8.0"


def test_reopen_clears_the_fix_and_wontfix_closes_from_any_open_state():
    fixed = apply(None, "item-1", ItemChange(action="fix", version="1.0.7.0"))
    reopened = apply(fixed, "item-1", ItemChange(action="reopen", note="still drops"))
    assert reopened.state == "open" and reopened.fixed_in is None
    assert apply(reopened, "item-1", ItemChange(action="wontfix")).state == "wontfix"


@pytest.mark.parametrize(
    ("steps", "refused", "says"),
    [
        ([], "reopen", "item-1 is open"),
        (["ack"], "ack", "is acknowledged"),
        (["wontfix"], "ack", "is wontfix"),
        (["wontfix"], "fix", "is wontfix"),
    ],
)
def test_a_change_the_state_does_not_allow_is_refused_with_the_reason(steps, refused, says):
    lifecycle = None
    for action in steps:
        lifecycle = apply(lifecycle, "item-1", ItemChange(action=action))
    with pytest.raises(InvalidChange, match=says):
        apply(lifecycle, "item-1", ItemChange(action=refused))


def test_only_a_fix_names_a_version_and_the_stream_s_own_actions_are_not_a_person_s():
    with pytest.raises(InvalidChange, match="--in"):
        apply(None, "item-1", ItemChange(action="ack", version="1.0.7.0"))
    with pytest.raises(InvalidChange, match="not something a person does"):
        apply(None, "item-1", ItemChange(action="verified"))


def test_the_history_is_capped_and_keeps_the_newest():
    lifecycle = None
    for i in range(HISTORY + 5):
        lifecycle = apply(lifecycle, "item-1", ItemChange(action="fix", version=f"1.0.{i}"))
    assert len(lifecycle.history) == HISTORY
    assert lifecycle.history[-1].version == f"1.0.{HISTORY + 4}"
