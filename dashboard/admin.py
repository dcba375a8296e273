"""Subscription management for the admin token: add, list, remove.

Subscriptions live on the compacted subscriptions topic, through the one class that
every reader and writer of it shares.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from canyu.schema import Subscription
from canyu_runtime.subscriptions import SubscriptionStore
from dashboard.auth import admin_router

router = admin_router("/api/subscriptions")


def _store(request: Request) -> SubscriptionStore:
    return SubscriptionStore(request.app.state.settings)


@router.get("", response_model=list[Subscription])
async def list_subscriptions(request: Request) -> list[Subscription]:
    current = await run_in_threadpool(_store(request).current)
    return sorted(current.values(), key=lambda s: s.id)


@router.post("", response_model=Subscription, status_code=201)
async def add_subscription(request: Request, subscription: Subscription) -> Subscription:
    """Add a subscription, or replace the one with the same id."""
    await run_in_threadpool(_store(request).put, subscription)
    return subscription


@router.delete("/{subscription_id}", status_code=204, responses={404: {"description": "no such subscription"}})
async def remove_subscription(request: Request, subscription_id: str) -> Response:
    if not await run_in_threadpool(_store(request).remove, subscription_id):
        raise HTTPException(404, f"no subscription with id {subscription_id!r}")
    return Response(status_code=204)
