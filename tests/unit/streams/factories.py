from __future__ import annotations

from datetime import datetime, timedelta, timezone

from canyu.schema import EnrichedPost

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)


def post(n: int, text: str = "", *, at: timedelta = timedelta(0), topic: str | None = "battery",
         sentiment: str = "negative", intent: str = "complaint", products: list[str] = (),
         repost_of: str | None = None, author: str | None = None, followers: int | None = None,
         fetched: datetime | None = None, language: str = "en", versions: list[dict] = (),
         parent_id: str | None = None) -> EnrichedPost:  # fmt: skip
    return EnrichedPost(
        id=f"microblog:{n}",
        source="microblog",
        text=text or f"post number {n} with some words",
        language=language,
        created_at=T0 + at,
        author={"id": author or f"user{n}", "followers": followers},
        repost_of=repost_of,
        parent_id=parent_id,
        fetched_at=fetched or datetime(2026, 11, 27, tzinfo=timezone.utc),
        sentiment={"label": sentiment, "scores": {sentiment: 1.0}},
        intent={"label": intent, "scores": {intent: 1.0}},
        topics=[{"id": topic, "score": 1.0}] if topic else [],
        products=list(products),
        versions=list(versions),
        classifier="test",
    )
