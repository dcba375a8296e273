"""The read-only JSON API behind the page; every route takes the same filters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from canyu.filters import RELATIVE, Filters, in_utc
from canyu.schema import EnrichedPost, FeedbackItem, ReleaseImpact
from canyu.versions import SOFTWARE_LINES
from dashboard import live, reads
from dashboard.auth import is_admin, presented, reader

router = APIRouter(prefix="/api", dependencies=[Depends(reader)], responses={401: {"description": "no valid token"}})

# No white space, ':' or '/'. White space is spelled out because Python's \s and the
# spec's (ECMA) \s differ at the edges (U+001C-001F, U+0085, U+FEFF).
TERM = r"^[^:/\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]{1,64}$"
# A version alone ("1.0.7.0", "v3.2.1"), or a software line, a space or ':' and a version, where a major
# alone is one ("hyperos 1.0.7.0", "android 14"): a subset of what canyu.filters.version_terms reads.
VERSION = (
    rf"^(?:(?:{'|'.join(SOFTWARE_LINES)})[ :][vV]?[0-9]{{1,4}}(?:\.[0-9]{{1,6}}){{0,4}}"
    rf"|[vV]?[0-9]{{1,4}}(?:\.[0-9]{{1,6}}){{1,4}})$"
)


class FilterParams(BaseModel):
    """The page's filters as URL query parameters: one value each, checked before any query runs (else 422).

    The same parameters appear in the page's address and in every API call, so a view can be
    shared by sharing its address. What they mean is ``canyu.filters.Filters``, as for the CLI.
    """

    model_config = ConfigDict(extra="forbid")

    since: str | None = Field(None, pattern=RELATIVE, description="relative range back from now: 30m, 12h, 7d, 2w")
    until: AwareDatetime | None = Field(None, description="ISO date-time with a zone, e.g. 2026-11-20T00:00:00Z")
    source: str | None = Field(None, pattern=TERM, description="only this source, e.g. microblog")
    lang: str | None = Field(None, pattern=r"^[a-z]{2,3}$", description="only this language, e.g. zh, ko, en")
    topic: str | None = Field(None, pattern=TERM, description="only posts about this topic id")
    product: str | None = Field(None, pattern=TERM, description="only posts that mention this product id")
    version: str | None = Field(
        None, pattern=VERSION, description='only posts naming this version: "1.0.7.0" on any line, or "hyperos 1.0.7.0"'
    )
    min_confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="count a sentiment label less likely than this (0-1) as 'unsure' in the sentiment splits",
    )

    @field_validator("until")
    @classmethod
    def _has_a_utc_time(cls, until: datetime | None) -> datetime | None:
        if until is not None:
            in_utc(until)  # 0001-01-01T00:00+01:00 has no UTC time: a 422 that names `until`
        return until


def as_filters(params: Annotated[FilterParams, Query()]) -> Filters:
    chosen = params.model_dump(exclude_none=True)
    single = {name: chosen.pop(name) for name in ("since", "until", "min_confidence") if name in chosen}
    try:
        return Filters(**{name: [value] for name, value in chosen.items()}, **single)
    except ValueError as e:  # what the patterns above cannot tell, Filters says in a sentence
        raise HTTPException(422, str(e)) from None


Filters_ = Annotated[Filters, Depends(as_filters)]


@router.get("/summary", response_model=reads.Summary)
def summary(request: Request, filters: Filters_) -> reads.Summary:
    """Totals, volume over time by source and sentiment, top topics and products with their sentiment split."""
    return reads.summary(request.app.state.es, request.app.state.settings, filters)


@router.get("/top-posts", response_model=list[EnrichedPost])
def top_posts(request: Request, filters: Filters_) -> list[EnrichedPost]:
    """The most engaging posts: most likes, then reposts, then comments."""
    return reads.top_posts(request.app.state.es, request.app.state.settings, filters)


@router.get("/top-cascades", response_model=list[reads.RankedCascade])
def top_cascades(request: Request, filters: Filters_) -> list[reads.RankedCascade]:
    """The root posts spreading fastest by reposts (reposts in the latest 10 minutes)."""
    return reads.top_cascades(request.app.state.es, request.app.state.settings, filters)


@router.get("/feedback", response_model=list[FeedbackItem])
def feedback(request: Request, filters: Filters_) -> list[FeedbackItem]:
    """Feedback items still tracked (grouped bug reports and feature requests), largest first: posts per day and
    per language, status, the version a fix ships in, and the item's history."""
    return reads.tracked_feedback(request.app.state.es, request.app.state.settings, filters)


@router.get("/releases", response_model=list[ReleaseImpact])
def releases(request: Request, filters: Filters_) -> list[ReleaseImpact]:
    """The newest releases (registered or seen in posts), by date within since/until, each with what it did:
    regressions, quieted and persisting items, and the negative share before and after."""
    return reads.releases(request.app.state.es, request.app.state.settings, filters)


class Access(BaseModel):
    admin: bool = Field(description="whether the token may change items and download reporters")


@router.get("/access", response_model=Access)
def access(request: Request, token: Annotated[str | None, Depends(presented)]) -> Access:
    """What the token presented may do; the page shows the item actions only to the admin token."""
    return Access(admin=is_admin(request.app.state.settings, token))


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "a stream of `post` and `alert` events"}},
)
async def live_feed(request: Request, filters: Filters_) -> StreamingResponse:
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
