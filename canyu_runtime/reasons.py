"""The one way an error becomes the short, plain reason a dead letter or a status line carries."""

from __future__ import annotations

from pydantic import ValidationError

MAX_FIELD_ERRORS = 5


def reason_of(error: BaseException) -> str:
    """``"text: Field required; created_at: Input should be ..."`` for a validation error, else the message."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors()[:MAX_FIELD_ERRORS]
        )
    if isinstance(error, KeyError):
        return f"missing field {error.args[0]!r}"
    return str(error) or type(error).__name__
