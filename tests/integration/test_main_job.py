"""The README's main command: every sample post ends up searchable, in all three languages."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from producers.replay import sample_corpus
from tests.integration.conftest import count_docs, env_for


def test_canyu_up_indexes_the_whole_sample_and_search_finds_all_three_languages(stack):
    settings = stack.model_copy(update={"namespace": f"main{uuid.uuid4().hex[:8]}."})
    env = env_for(settings)
    expected = sum(1 for line in sample_corpus().read_text(encoding="utf-8").splitlines() if line.strip())

    up = subprocess.run([sys.executable, "-m", "canyu", "up", "--exit-when-indexed"], env=env, capture_output=True,
                        text=True, timeout=600)  # fmt: skip
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert f"All {expected} sample posts are indexed" in up.stdout
    assert "canyu search" in up.stdout
    assert count_docs(settings) == expected

    for query, lang in [("电池", "zh"), ("배터리", "ko"), ("battery", "en")]:
        found = subprocess.run([sys.executable, "-m", "canyu", "search", query, "--lang", lang, "--json"], env=env,
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert found.returncode == 0, found.stderr
        result = json.loads(found.stdout)
        assert result["total"] > 0, f"no {lang} post matches {query!r}"
        assert {hit["language"] for hit in result["hits"]} == {lang}
        assert sum(result["by_sentiment"].values()) == result["total"]
