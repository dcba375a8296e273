"""Versions in posts on the real Elasticsearch node: enriched, indexed, found by ``--version``."""

from __future__ import annotations

import json

from canyu.schema import EnrichedPost
from models import VersionFinder, load_classifier
from streams.enrich import Enriched, RawRecord, enrich_batch
from streams.products import Catalogue
from tests.integration.conftest import count_docs
from tests.integration.sinks.test_index import NOW, canyu, index_posts, ns, sink  # noqa: F401 (fixtures)

TEXTS = {
    "forum:1": "小米14 升级 HyperOS 1.0.7.0 后待机耗电严重",
    "forum:2": "Xiaomi 14, EU, OS1.0.7.0.UNCEUXM. About 11% an hour screen off",
    "forum:3": "HyperOS 1.0.6.0 업데이트 후 와이파이 끊김",
    "forum:4": "HyperOS 1.0.6.0 里的相机 v1.0.7 又闪退了",  # HyperOS 1.0.6.0, and an app's 1.0.7
    "forum:5": "只要1.299元，2024.05.06 发布，评分4.5/5",
    "forum:6": "Android 14 以后通知总是延迟",
}


def enriched_posts(settings) -> list[EnrichedPost]:
    """The posts as the worker's enrich step makes them: classified, with products and versions."""
    records = [
        RawRecord(json.dumps({"id": post_id, "source": "forum", "text": text, "author": {"id": post_id},
                              "created_at": NOW.isoformat()}).encode())
        for post_id, text in TEXTS.items()
    ]  # fmt: skip
    results = enrich_batch(records, load_classifier("lexicon"), settings, mentions=Catalogue.load().mentions,
                           versions=VersionFinder.load().find)  # fmt: skip
    assert all(isinstance(r, Enriched) for r in results), results
    return [r.post for r in results]


def found(settings, command: str, *versions: str) -> set[str]:
    args = [a for v in versions for a in ("--version", v)]
    if command == "search":
        result = canyu(settings, "search", "*", *args, "--limit", "50", "--json")
        assert result.returncode == 0, result.stderr
        return {hit["id"] for hit in json.loads(result.stdout)["hits"]}
    result = canyu(settings, "export", "*", *args, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    return {json.loads(line)["id"] for line in result.stdout.splitlines()}


def test_version_filters_find_exactly_the_posts_that_name_the_version(ns, sink):  # noqa: F811
    posts = enriched_posts(ns)
    assert {p.id: [v.tag for v in p.versions] for p in posts} == {
        "forum:1": ["hyperos 1.0.7.0"], "forum:2": ["hyperos 1.0.7.0"], "forum:3": ["hyperos 1.0.6.0"],
        "forum:4": ["hyperos 1.0.6.0", "app 1.0.7"], "forum:5": [], "forum:6": ["android 14.0"],
    }  # fmt: skip
    assert posts[0].versions[0].product == "xiaomi-14"
    index_posts(sink, posts)
    assert count_docs(ns) == len(TEXTS)  # and refreshed

    # a bare version, whatever the line, and however the release point is spelt
    assert found(ns, "search", "1.0.7.0") == found(ns, "export", "1.0.7.0") == {"forum:1", "forum:2", "forum:4"}
    # a line and a version: only that pair, not HyperOS 1.0.6.0 beside an app's 1.0.7
    assert found(ns, "search", "hyperos 1.0.7.0") == found(ns, "export", "hyperos 1.0.7.0") == {"forum:1", "forum:2"}
    assert found(ns, "search", "hyperos:1.0.6.0") == {"forum:3", "forum:4"}
    assert found(ns, "search", "app 1.0.7.0", "android 14") == {"forum:4", "forum:6"}
    assert found(ns, "search", "hyperos 1.0.8.0") == set()

    counted = canyu(ns, "search", "*", "--agg", "terms:version", "--json")
    assert json.loads(counted.stdout)["aggs"]["terms:version"] == {
        "hyperos 1.0.7.0": 2, "hyperos 1.0.6.0": 2, "app 1.0.7": 1, "android 14.0": 1,
    }  # fmt: skip
    wrong = canyu(ns, "search", "*", "--version", "1.0.x")
    assert wrong.returncode == 1 and "--version '1.0.x'" in wrong.stderr
