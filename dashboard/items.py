"""Feedback items for the admin token: a person's change to an item, and who reported it.

A change goes through ``canyu_runtime.items.change_item``, as ``canyu item`` does: it checks
the item and the change (``canyu.lifecycle``) and writes it to the compacted items.lifecycle
topic, and the worker applies it to the item in the index, so the page shows the new status
once the worker has. Its refusals become 404 (no such item), 409 (the item's state does not
allow it) and 422 (a version that does not parse, or an item closed and no longer tracked),
each with its sentence; a refused change changes nothing. The reporters download names people,
so it takes the admin token too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from canyu.lifecycle import InvalidChange
from canyu.schema import ItemChange, ItemLifecycle
from canyu.versions import parse_version
from canyu_runtime import items, reporters
from dashboard.auth import admin_router

router = admin_router("/api/items")

# Item ids are "item-<hex>"; anything else cannot name one, and the id goes into a file name.
ItemId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,128}$", description="the feedback item's id")]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class ItemAction(BaseModel):
    """What a person does to an item from the page."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["ack", "fix", "reopen", "wontfix"]
    version: str | None = Field(
        None,
        description="fix: the version it ships in, e.g. 1.0.8.0 or v1.0.8",
        # For the spec (what a client may send); parse_version checks it and says why, in a sentence.
        json_schema_extra={"pattern": r"^[vV]?[0-9]{1,4}(\.[0-9]{1,6}){1,4}$"},
    )
    note: str | None = Field(None, max_length=2000, description="why, for whoever reads the item's history")

    @field_validator("version")
    @classmethod
    def _a_version(cls, value: str | None) -> str | None:
        return parse_version(value) if value else None


@router.post(
    "/{item_id}/changes",
    response_model=ItemLifecycle,
    responses={
        404: {"description": "no such item, or it is no longer tracked"},
        409: {"description": "the item's state does not allow this change"},
        422: {"description": "a version that does not parse, or another value that cannot be"},
    },
)
def change(request: Request, item_id: ItemId, body: ItemAction) -> ItemLifecycle:
    """Acknowledge, mark fixed (in a version), reopen or won't-fix an item, with a note; answers its new lifecycle."""
    try:
        wanted = ItemChange(action=body.action, version=body.version, note=body.note or None, by="dashboard")
        return items.change_item(request.app.state.settings, item_id, wanted, es=request.app.state.es)
    except LookupError as e:  # items.UnknownItem
        raise HTTPException(404, str(e)) from None
    except InvalidChange as e:  # a ValueError too: caught first
        raise HTTPException(409, str(e)) from None
    except ValueError as e:  # items.ForgottenItem (closed), or a value ItemChange refuses
        raise HTTPException(422, str(e)) from None


@router.get(
    "/{item_id}/reporters",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}, "application/x-ndjson": {}}, "description": "one row per report"},
        404: {"description": "no such item"},
    },
)
def reporters_download(
    request: Request, item_id: ItemId, fmt: Annotated[Literal["csv", "jsonl"], Query(alias="format")] = "csv"
) -> StreamingResponse:
    """The posts grouped into the item, to answer each one: link, source, language, time, author, version tags,
    and the start of the text."""
    es, settings = request.app.state.es, request.app.state.settings
    try:
        items.find_item(es, settings, item_id)
    except items.UnknownItem as e:
        raise HTTPException(404, str(e)) from None
    rows = reporters.reporters(es, settings, item_id)
    return StreamingResponse(
        reporters.as_csv(rows) if fmt == "csv" else reporters.as_jsonl(rows),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="reporters-{item_id}.{fmt}"'},
    )
