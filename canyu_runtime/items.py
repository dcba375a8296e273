"""What a person does to a feedback item (ack, fix, reopen, wontfix), checked and written in one place.

The CLI (``canyu item``) and the dashboard both call :func:`change_item`, so they refuse the
same changes with the same sentences. The change lands on the compacted ``items.lifecycle``
topic; the worker applies it to the item it tracks, and the sink to the indexed item.

Refusals raise, and nothing is written:

- :class:`UnknownItem` (a ``LookupError``): no item with that id in the index;
- :class:`ForgottenItem` (a ``ValueError``): the item is closed, so the worker no longer tracks it;
- :class:`canyu.lifecycle.InvalidChange` (a ``ValueError``): the item's state does not allow it.
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from canyu import lifecycle
from canyu.schema import ItemChange, ItemLifecycle
from canyu.settings import Settings
from canyu_runtime.elastic import client
from canyu_runtime.registry import item_lifecycles


class UnknownItem(LookupError):
    def __init__(self, item_id: str):
        super().__init__(f"no feedback item {item_id!r}; the dashboard and the feedback-items index show their ids")


class ForgottenItem(ValueError):
    def __init__(self, item_id: str):
        super().__init__(
            f"feedback item {item_id!r} is closed: no post joined it for a long while and the worker forgot it; "
            "a new report of the same thing opens a new item"
        )


def find_item(es: Elasticsearch, settings: Settings, item_id: str) -> dict:
    """The indexed feedback item (its ``_source``); :class:`UnknownItem` when there is none."""
    hits = es.search(index=settings.feedback_alias, query={"ids": {"values": [item_id]}}, size=1)["hits"]["hits"]
    if not hits:
        raise UnknownItem(item_id)
    return hits[0]["_source"]


def change_item(settings: Settings, item_id: str, change: ItemChange, es: Elasticsearch | None = None) -> ItemLifecycle:
    """Check ``change`` against the item and its lifecycle, write the new lifecycle, and return it.

    ``es``: a client to reuse (the dashboard's); without one, a client is opened for the call.
    """
    if es is None:
        with client(settings) as own:
            return change_item(settings, item_id, change, own)
    if find_item(es, settings, item_id).get("status") == "closed":
        raise ForgottenItem(item_id)
    registry = item_lifecycles(settings)
    changed = lifecycle.apply(registry.get(item_id), item_id, change)
    registry.put(changed)
    return changed
