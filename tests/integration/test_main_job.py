"""The README's main command: every sample post ends up searchable, in all three languages, and on the dashboard."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

from fastapi.testclient import TestClient

from dashboard.app import create_app
from dashboard.auth import with_tokens
from producers.replay import sample_corpus
from tests.integration.conftest import count_docs, env_for, free_port


def test_canyu_up_indexes_the_whole_sample_and_search_finds_all_three_languages(stack):
    settings = stack.model_copy(update={"namespace": f"main{uuid.uuid4().hex[:8]}."})
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
    assert reader.dashboard_token == token_file.read_text().strip()
    assert reader.dashboard_token not in up.stdout + up.stderr
    with TestClient(create_app(reader), headers={"Authorization": f"Bearer {reader.dashboard_token}"}) as dashboard:
        summary = dashboard.get("/api/summary").json()
    assert summary["total"] == expected
    assert set(summary["by_language"]) >= {"zh", "ko", "en"}
    assert count_docs(settings) == expected

    for query, lang in [("电池", "zh"), ("배터리", "ko"), ("battery", "en")]:
        found = subprocess.run([sys.executable, "-m", "canyu_cli", "search", query, "--lang", lang, "--json"], env=env,
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert found.returncode == 0, found.stderr
        result = json.loads(found.stdout)
        assert result["total"] > 0, f"no {lang} post matches {query!r}"
        assert {hit["language"] for hit in result["hits"]} == {lang}
        assert sum(result["by_sentiment"].values()) == result["total"]
