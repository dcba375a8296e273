"""training/ stays in the source checkout: `pip install canyu`, the runtime-only install and the
Docker image hold models/, which inference needs, and not the code that builds its files."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

from setuptools import find_namespace_packages

ROOT = Path(__file__).resolve().parents[3]
CHECKOUT_ONLY = {"training", "bench", "tests"}


def installed_packages() -> list[str]:
    """The packages that `pip install .` installs: pyproject.toml's find rule, applied as setuptools
    applies it (``[tool.setuptools.packages.find]`` finds namespace packages unless told not to)."""
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert find.get("namespaces", True), "pyproject.toml turned namespaces off: use find_packages here"
    return find_namespace_packages(str(ROOT), include=find["include"], exclude=find.get("exclude", ()))


def test_pip_install_holds_models_and_not_the_training_code():
    tops = {p.split(".")[0] for p in installed_packages()}
    assert {"canyu", "models", "streams"} <= tops
    assert tops & CHECKOUT_ONLY == set()


def test_the_docker_image_copies_the_installed_packages_and_its_context_leaves_training_out():
    copied = re.findall(r"^COPY (\w+)/ \1/$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert sorted(copied) == sorted({p.split(".")[0] for p in installed_packages()})
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "training" in ignored


def test_the_runtime_only_install_reads_models_and_has_no_training(runtime_python, tmp_path):
    # -I: only what is installed, not the checkout (no PYTHONPATH, no current folder on the path).
    script = "import importlib.util, json; print(json.dumps({m: bool(importlib.util.find_spec(m)) for m in %r}))"
    found = subprocess.run(
        [runtime_python, "-I", "-c", script % ["models", "streams", "training"]],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert json.loads(found.stdout) == {"models": True, "streams": True, "training": False}
