"""The life of a feedback item: what engineers say about it, as a state machine.

Pure: ``apply`` takes an item's lifecycle (or None for an item nobody touched yet) and one
change, and returns the new lifecycle or raises ``InvalidChange`` with a sentence for the
person who asked. The CLI and the dashboard both check a change with it before they write
it to the compacted ``items.lifecycle`` topic, and the worker reads the result.

    open ──ack──► acknowledged ──fix [--in V]──► fixed ──reopen──► open
      │               │                            │
      └──wontfix──────┴──────► wontfix ──reopen────┘

``fix`` on a fixed item moves its version (the fix slipped to a later build). What the
worker derives on top (verified, fix did not hold) is the item's ``status``, not a state
here: the engineer's word stays what they said.
"""

from __future__ import annotations

from canyu.schema import ItemChange, ItemLifecycle, ItemState, utcnow

HISTORY = 100  # changes an item keeps, newest last

# action → {state it may come from → state it leads to}
TRANSITIONS: dict[str, dict[str, ItemState]] = {
    "ack": {"open": "acknowledged"},
    "fix": {"open": "fixed", "acknowledged": "fixed", "fixed": "fixed"},
    "reopen": {"acknowledged": "open", "fixed": "open", "wontfix": "open"},
    "wontfix": {"open": "wontfix", "acknowledged": "wontfix", "fixed": "wontfix"},
}


class InvalidChange(ValueError):
    """A change that the item's state does not allow; the message says why, for a person."""


def apply(current: ItemLifecycle | None, item_id: str, change: ItemChange) -> ItemLifecycle:
    state: ItemState = current.state if current else "open"
    allowed = TRANSITIONS.get(change.action)
    if allowed is None:
        raise InvalidChange(f"{change.action!r} is not something a person does to an item: {', '.join(TRANSITIONS)}")
    if state not in allowed:
        raise InvalidChange(
            f"item {item_id} is {state}: '{change.action}' applies to an item that is {' or '.join(allowed)}"
        )
    if change.version is not None and change.action != "fix":
        raise InvalidChange(f"--in names the version of a fix; '{change.action}' takes none")
    history = [*(current.history if current else []), change][-HISTORY:]
    fixed_in = change.version if change.action == "fix" else None
    return ItemLifecycle(item_id=item_id, state=allowed[state], fixed_in=fixed_in, history=history, updated_at=utcnow())
