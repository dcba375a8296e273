"""The README's main command: every sample post ends up searchable, in all three languages, and on the dashboard,
which tells the sample's release story (docs/releases.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

from fastapi.testclient import TestClient

from canyu.settings import Settings
from canyu_cli.sample_story import Story
from canyu_runtime.elastic import client
from dashboard.app import create_app
from dashboard.auth import with_tokens
from producers.replay import sample_corpus
from queries.releases import find_impact
from tests.integration.conftest import count_docs, env_for, free_port, wait_for

WIFI_POST = "forum:100724"  # the first WiFi report after HyperOS 1.0.6.0, in Chinese
BACKGROUND_POST = "forum:100992"  # the first report of background apps killed


def test_canyu_up_indexes_the_whole_sample_and_search_finds_all_three_languages(stack):
    settings = stack.replace(namespace=f"main{uuid.uuid4().hex[:8]}.")
    env = env_for(settings, CANYU_DASHBOARD_PORT=str(free_port()))
    expected = sum(1 for line in sample_corpus().read_text(encoding="utf-8").splitlines() if line.strip())

    up = subprocess.run([sys.executable, "-m", "canyu_cli", "up", "--exit-when-indexed"], env=env, capture_output=True,
                        text=True, timeout=600)  # fmt: skip
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert f"All {expected} sample posts are indexed" in up.stdout
    assert "canyu search" in up.stdout
    # It ends with the dashboard's address, printed once the dashboard's API counted the whole sample, with
    # where its read token is (a file only the operator can read), never the token itself.
    token_file = settings.home / "secrets" / f"{settings.namespace}dashboard_token"
    url = rf"http://127\.0\.0\.1:{env['CANYU_DASHBOARD_PORT']}/\?token=\$\(cat {re.escape(str(token_file))}\)"
    assert re.fullmatch(rf"Dashboard \(the sample corpus, live\): {url}", up.stdout.strip().splitlines()[-1])
    reader = with_tokens(settings)
    assert reader.dashboard.token == token_file.read_text().strip()
    assert reader.dashboard.token not in up.stdout + up.stderr
    with TestClient(create_app(reader), headers={"Authorization": f"Bearer {reader.dashboard.token}"}) as dashboard:
        summary = dashboard.get("/api/summary").json()
    assert summary["total"] == expected
    assert set(summary["by_language"]) >= {"zh", "ko", "en"}
    assert count_docs(settings) == expected
    assert "docs/releases.md" in up.stdout
    assert_release_story_shown(settings)

    for query, lang in [("电池", "zh"), ("배터리", "ko"), ("battery", "en")]:
        found = subprocess.run([sys.executable, "-m", "canyu_cli", "search", query, "--lang", lang, "--json"], env=env,
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert found.returncode == 0, found.stderr
        result = json.loads(found.stdout)
        assert result["total"] > 0, f"no {lang} post matches {query!r}"
        assert {hit["language"] for hit in result["hits"]} == {lang}
        assert sum(result["by_sentiment"].values()) == result["total"]


def assert_release_story_shown(settings: Settings) -> None:
    """What `canyu up` waited for is in the index: the registered release's impact with the WiFi regression
    in three languages, the WiFi fix verified, and the background fix not held, with its alert."""
    story = Story.load()
    release, (fixed_in,) = story.releases[0], story.fix_versions()
    with client(settings) as es:
        es.indices.refresh(index=[settings.posts_alias, settings.feedback_alias, settings.releases_alias])
        posts = es.search(index=settings.posts_alias, query={"ids": {"values": [WIFI_POST, BACKGROUND_POST]}},
                          source=["item_id"])["hits"]["hits"]  # fmt: skip
        item_of = {h["_id"]: h["_source"]["item_id"] for h in posts}
        items = es.search(index=settings.feedback_alias, query={"ids": {"values": list(item_of.values())}})
        item = {h["_id"]: h["_source"] for h in items["hits"]["hits"]}
        impact = find_impact(es, settings, release.product, release.version)
        fixed_release = find_impact(es, settings, release.product, fixed_in)
    wifi, background = item[item_of[WIFI_POST]], item[item_of[BACKGROUND_POST]]
    assert impact is not None and impact.source == "registered"
    regression = next(i for i in impact.regressions if i.item_id == wifi["id"])
    assert {"zh", "ko", "en"} <= set(regression.languages) and regression.after >= 3
    assert fixed_release is not None and fixed_release.source == "seen"
    assert (wifi["status"], wifi["fixed_in"]) == ("verified", fixed_in)
    assert [(c["action"], c["by"]) for c in wifi["history"]][-1] == ("verified", "canyu")
    assert (background["status"], background["fixed_in"]) == ("fix_failed", fixed_in)

    def fix_failed_alerts() -> list[dict]:
        with client(settings) as es:
            es.indices.refresh(index=settings.alerts_alias)
            found = es.search(index=settings.alerts_alias, query={"term": {"kind": "fix_failed"}})["hits"]["hits"]
        return [h["_source"] for h in found]

    (alert,) = wait_for(fix_failed_alerts, timeout=60, what="the fix_failed alert indexed")
    assert (alert["dimensions"]["item"], alert["dimensions"]["version"]) == (background["id"], fixed_in)
