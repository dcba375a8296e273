"""The page's filters, as URL query parameters, and the Elasticsearch clauses they mean.

The same parameters appear in the page's address and in every API call, so a view can
be shared by sharing its address. Bad values are rejected with 422 before any query runs.
"""

from __future__ import annotations

from datetime import timezone

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

TERM = r"^[^\s:/]{1,64}$"


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Passed to Elasticsearch as date math ("now-7d"), so "now" is the cluster's clock.
    since: str | None = Field(
        None, pattern=r"^[1-9][0-9]{0,3}[mhdw]$", description="relative range back from now: 30m, 12h, 7d, 2w"
    )
    until: AwareDatetime | None = Field(None, description="ISO date-time with a zone, e.g. 2026-11-20T00:00:00Z")
    source: str | None = Field(None, pattern=TERM, description="only this source, e.g. microblog")
    lang: str | None = Field(None, pattern=r"^[a-z]{2,3}$", description="only this language, e.g. zh, ko, en")
    topic: str | None = Field(None, pattern=TERM, description="only posts about this topic id")
    product: str | None = Field(None, pattern=TERM, description="only posts that mention this product id")

    def _time(self, field: str) -> list[dict]:
        bounds = {}
        if self.since:
            bounds["gte"] = f"now-{self.since}"
        if self.until:  # in UTC: Elasticsearch takes offsets up to ±18:00 only, Python any under a day
            bounds["lte"] = self.until.astimezone(timezone.utc).isoformat()
        return [{"range": {field: bounds}}] if bounds else []

    @staticmethod
    def _terms(pairs: tuple[tuple[str, str | None], ...]) -> list[dict]:
        return [{"term": {field: value}} for field, value in pairs if value]

    def post_clauses(self) -> list[dict]:
        """For the posts index, where every filter applies."""
        pairs = (
            ("source", self.source),
            ("language", self.lang),
            ("topics.id", self.topic),
            ("products", self.product),
        )
        return self._terms(pairs) + self._time("created_at")

    def feedback_clauses(self) -> list[dict]:
        """Feedback items have a topic and a product, and are current when last seen in the range."""
        return self._terms((("topic", self.topic), ("product", self.product))) + self._time("last_seen")
