"""The read-only JSON API behind the page; every route takes the same filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from canyu.schema import EnrichedPost, FeedbackItem
from dashboard import live, reads
from dashboard.auth import reader
from dashboard.filters import Filters

router = APIRouter(prefix="/api", dependencies=[Depends(reader)], responses={401: {"description": "no valid token"}})

Query_ = Annotated[Filters, Query()]


@router.get("/summary", response_model=reads.Summary)
def summary(request: Request, filters: Query_) -> reads.Summary:
    """Totals, volume over time by source and sentiment, top topics and products with their sentiment split."""
    return reads.summary(request.app.state.es, request.app.state.settings, filters)


@router.get("/top-posts", response_model=list[EnrichedPost])
def top_posts(request: Request, filters: Query_) -> list[EnrichedPost]:
    """The most engaging posts: most likes, then reposts, then comments."""
    return reads.top_posts(request.app.state.es, request.app.state.settings, filters)


@router.get("/top-cascades", response_model=list[reads.RankedCascade])
def top_cascades(request: Request, filters: Query_) -> list[reads.RankedCascade]:
    """The root posts spreading fastest by reposts (reposts in the latest 10 minutes)."""
    return reads.top_cascades(request.app.state.es, request.app.state.settings, filters)


@router.get("/feedback", response_model=list[FeedbackItem])
def feedback(request: Request, filters: Query_) -> list[FeedbackItem]:
    """Open feedback items (grouped bug reports and feature requests), largest first, with posts per day."""
    return reads.open_feedback(request.app.state.es, request.app.state.settings, filters)


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "a stream of `post` and `alert` events"}},
)
async def live_feed(request: Request, filters: Query_) -> StreamingResponse:
    """Server-sent events: the latest posts (with the filters) and alerts, then each new one as it is indexed."""
    settings = request.app.state.settings
    feeds = {
        "post": live.Feed(settings.posts_alias, "enriched_at", filters.post_clauses()),
        "alert": live.Feed(settings.alerts_alias, "created_at", []),
    }
    return StreamingResponse(
        live.events(request, request.app.state.es, feeds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store"},
    )
