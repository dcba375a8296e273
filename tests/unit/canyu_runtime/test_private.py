"""Files canyu writes are the operator's only (0600 in 0700 folders), and secrets it makes are stored once."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from canyu.settings import Settings
from canyu_runtime.files import write_json_atomically
from canyu_runtime.private import open_private, private_dir, secret_path, stored_secret, without_credentials


@pytest.fixture(autouse=True)
def usual_umask():
    """The umask most systems have (022): it would leave files 0644 and folders 0755."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_private_folder_is_made_0700_with_its_parents_and_an_older_one_narrowed(tmp_path):
    assert mode(private_dir(tmp_path / "home" / "run")) == 0o700 and mode(tmp_path / "home") == 0o700
    older = tmp_path / "logs"
    older.mkdir(mode=0o755)
    assert mode(private_dir(older)) == 0o700


def test_a_log_is_0600_even_when_an_older_canyu_made_it_0644(tmp_path):
    log = tmp_path / "logs" / "sink.log"
    log.parent.mkdir()
    log.write_bytes(b"old line\n")
    log.chmod(0o644)
    with open_private(log) as out:
        out.write(b"new line\n")
    assert log.read_bytes() == b"old line\nnew line\n"
    assert mode(log) == 0o600 and mode(log.parent) == 0o700


def test_run_files_and_cursors_are_written_0600_in_0700_folders(tmp_path):
    path = tmp_path / "home" / "producers" / "weibo" / "cursor.json"
    write_json_atomically(path, {"position": {"high": "9"}})
    assert mode(path) == 0o600 and mode(path.parent) == 0o700 and mode(tmp_path / "home") == 0o700


def test_a_generated_secret_is_stored_once_0600_and_the_same_for_everyone(tmp_path):
    settings = Settings(home=tmp_path, namespace="t.")
    assert stored_secret(settings, "webhook_secret") is None  # not made unless asked
    made: list[str | None] = []
    threads = [threading.Thread(target=lambda: made.append(stored_secret(settings, "webhook_secret", create=True)))
               for _ in range(8)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    path = secret_path(settings, "webhook_secret")
    assert len(set(made)) == 1 and len(made[0]) >= 32 and path.read_text().strip() == made[0]
    assert mode(path) == 0o600 and mode(path.parent) == 0o700 and path.name == "t.webhook_secret"
    assert stored_secret(settings, "webhook_secret") == made[0]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary file left behind


@pytest.mark.parametrize(("url", "shown"), [
    ("http://elastic:s3cret@es.example:9200", "http://es.example:9200"),
    ("https://user@[::1]:9243/path", "https://[::1]:9243/path"),
    ("https://es.example:9243", "https://es.example:9243"),
])  # fmt: skip
def test_a_url_is_shown_without_its_credentials(url, shown):
    assert without_credentials(url) == shown
