"""`canyu release report`'s text (queries.releases.render): what a person reads first."""

from __future__ import annotations

from canyu.schema import ReleaseImpact
from queries.releases import render

IMPACT = ReleaseImpact.model_validate({
    "id": "hyperos|1.0.7.0", "product": "hyperos", "version": "1.0.7.0", "date": "2026-11-20T00:00:00Z",
    "source": "seen", "window_days": 7, "observed_until": "2026-11-22T12:00:00Z",
    "regressions": [{"item_id": "item-1", "title": "wifi drops every 15 min\\nsteps…", "intent": "bug_report",
                     "product": "xiaomi-14", "topic": "connectivity", "before": 0, "after": 6,
                     "first_seen": "2026-11-20T09:00:00Z", "opened_after": True, "version_share": 0.6667,
                     "languages": {"zh": 3, "ko": 2, "en": 1}, "status": "fixed",
                     "evidence": [{"post_id": "forum:1", "text": "升级HyperOS 1.0.7.0后wifi隔一会儿就断",
                                   "created_at": "2026-11-20T09:00:00Z", "language": "zh",
                                   "versions": ["hyperos 1.0.7.0"]}]}],
    "negative_before": {"count": 17, "total": 23, "share": 0.7391, "low": 0.5353, "high": 0.8746},
    "negative_after": {"count": 12, "total": 18, "share": 0.6667, "low": 0.4375, "high": 0.8372},
    "negative_change": -0.0725, "negative_change_low": -0.35, "negative_change_high": 0.19,
})  # fmt: skip


def test_the_report_says_what_the_release_brought_with_its_evidence():
    text = render(IMPACT)
    assert text.startswith("hyperos 1.0.7.0: seen, shipped 2026-11-20 00:00Z")
    assert "(2.5 days after)" in text
    assert "before 73.9% [53.5%–87.5%] of 23 → after 66.7% [43.8%–83.7%] of 18" in text
    assert "change: -7.2 points [-35.0, +19.0] (95%)" in text
    assert "Regressions (1)" in text and "item-1  [fixed]  bug_report xiaomi-14 connectivity" in text
    assert "0 → 6 reports; opened after; naming the version: 66.7%; zh 3 · ko 2 · en 1" in text
    assert "zh forum:1: 升级HyperOS 1.0.7.0后wifi隔一会儿就断" in text
    assert "Quieted (0)\n  none" in text and "Persisting (0)\n  none" in text
