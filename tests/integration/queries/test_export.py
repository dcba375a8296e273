"""``canyu export`` streams 50,000 posts in constant memory, in each format."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import pytest
from elasticsearch import helpers

from canyu.indices import kinds
from canyu_runtime.elastic import client
from canyu_runtime.migrations import migrate
from queries.export import COLUMNS
from tests.integration.conftest import count_docs, env_for
from tests.integration.sinks.test_index import enriched

TOTAL = 50_000
SMALL = 1_000  # posts from source "tiny": the same program, 50 times less data
# A body of ~1 KB per post: 50,000 posts are about 90 MB of JSON, and more as Python objects. An export that held
# them would grow by hundreds of MB; one page at a time, the big export may not outgrow the small one by more than:
GROWTH_BOUND_KB = 40 * 1024


@pytest.fixture(scope="module")
def loaded(stack):
    ns = stack.replace(namespace=f"x{uuid.uuid4().hex[:10]}.")
    body = "电池续航 battery life 배터리 " * 40
    template = enriched(0, text=body, title="Battery", created_at=datetime.now(timezone.utc)).model_dump(mode="json")
    index = kinds(ns)["posts"].month_index(datetime.now(timezone.utc))

    def actions():
        for i in range(TOTAL):
            source = "tiny" if i < SMALL else "forum"
            yield {"_index": index, "_id": f"{source}:{i}", "_source": {**template, "id": f"{source}:{i}",
                                                                        "source": source}}  # fmt: skip

    with client(ns) as es:
        migrate(es, ns)
        es.indices.put_settings(index=index, settings={"refresh_interval": "-1"})  # a faster load
        helpers.bulk(es.options(request_timeout=120), actions(), chunk_size=2000)
        es.indices.put_settings(index=index, settings={"refresh_interval": "1s"})
    assert count_docs(ns) == TOTAL
    yield ns
    with client(ns) as es:
        es.indices.delete(index=index)


# The child reports its own peak: VmHWM starts afresh at exec, whereas ru_maxrss from wait4 would
# include the pytest process's size, which the child inherits when it is forked.
_REPORT_PEAK = """
import atexit, re, runpy, sys
def report():
    with open("/proc/self/status") as f:
        print("peak_rss_kb", re.search(r"VmHWM:\\s+(\\d+)", f.read()).group(1), file=sys.stderr)
atexit.register(report)
sys.argv = ["canyu", *sys.argv[1:]]
runpy.run_module("canyu_cli", run_name="__main__")
"""


def run_export(ns, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``canyu export`` as its own process; return it and its peak resident memory in KB."""
    done = subprocess.run([sys.executable, "-c", _REPORT_PEAK, "export", *args], env=env_for(ns), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    return done, int(re.search(r"peak_rss_kb (\d+)", done.stderr).group(1))


def test_exporting_50000_posts_keeps_memory_constant(loaded, tmp_path):
    small, small_rss = run_export(loaded, "--source", "tiny", "-o", str(tmp_path / "small.parquet"))
    assert small.returncode == 0, small.stderr
    big, big_rss = run_export(loaded, "*", "-o", str(tmp_path / "all.parquet"))
    assert big.returncode == 0, big.stderr
    assert f"exported {TOTAL} posts as parquet" in big.stderr
    assert "50000/50000" in big.stderr  # the progress bar reached the end

    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "all.parquet", columns=["id", "topics.id", "created_at"])
    assert table.num_rows == TOTAL and len(set(table.column("id").to_pylist())) == TOTAL
    assert table.column("topics.id")[0].as_py() == ["battery"]
    assert pq.read_metadata(tmp_path / "small.parquet").num_rows == SMALL
    print(f"peak RSS: {small_rss} KB exporting {SMALL} posts, {big_rss} KB exporting {TOTAL}")
    assert big_rss - small_rss < GROWTH_BOUND_KB, f"peak RSS grew from {small_rss} KB to {big_rss} KB"


def test_jsonl_keeps_whole_documents_and_csv_has_one_column_per_indexed_field(loaded, tmp_path):
    done, _ = run_export(loaded, "--source", "tiny", "-o", str(tmp_path / "tiny.jsonl"))
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "tiny.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == SMALL and json.loads(lines[0])["sentiment"]["scores"] == {"negative": 0.9}

    done, _ = run_export(loaded, "--source", "tiny", "--format", "csv", "-o", str(tmp_path / "tiny.txt"))
    assert done.returncode == 0, done.stderr
    with (tmp_path / "tiny.txt").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == SMALL and list(rows[0]) == [path for path, _, _ in COLUMNS]
    assert rows[0]["author.id"] == "user0" and rows[0]["topics.id"] == "battery" and rows[0]["products"] == "p9"
    assert not list(tmp_path.glob("*.partial"))


def test_bad_export_requests_fail_clearly_and_write_nothing(loaded, tmp_path):
    no_file, _ = run_export(loaded, "--format", "parquet")
    assert no_file.returncode == 1 and "Parquet needs a file" in no_file.stderr
    odd, _ = run_export(loaded, "--format", "xml", "-o", str(tmp_path / "x.xml"))
    assert odd.returncode == 1 and "choose from jsonl, csv, parquet" in odd.stderr
    assert list(tmp_path.iterdir()) == []
