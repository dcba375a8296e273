"""What canyu keeps for the operator's eyes only: its files, its generated secrets, and URLs as they are shown.

Logs, run files, cursors, tokens and secrets may hold what only the operator should read
(a post's text, a token, a webhook secret), so every file canyu writes under ``CANYU_HOME``
is 0600 in a folder that is 0700, whatever the umask: the folders are made (and, when an
older canyu made them, narrowed) here, and the files created with that mode.

A secret that canyu generates (the webhook secret, the dashboard's tokens) is stored in
``CANYU_HOME/secrets/<namespace><name>``, created once, atomically; what is printed is
where to find it, never the secret. A URL is shown without its credentials.

Webhooks are signed by default: `canyu init` (and `canyu up`) store a webhook secret when
the ``webhook_secret`` setting is unset, and delivery signs with it every webhook whose
subscription names no ``secret_env`` of its own.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from canyu.settings import Settings

FOLDER_MODE, FILE_MODE = 0o700, 0o600
WEBHOOK_SECRET = "webhook_secret"  # the stored default key of webhook signatures, made by `canyu init`


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can enter: made 0700 with its missing parents, narrowed if it exists."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
    os.chmod(path, FOLDER_MODE)  # mkdir's mode passes through the umask; an older canyu made it 0755
    return path


def open_private(path: Path) -> IO[bytes]:
    """``path`` opened for appending (a log), 0600 in a 0700 folder, even when an older canyu made it 0644."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "ab")


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, 0600 in a 0700 folder: readers see the old file or the new one."""
    private_dir(path.parent)
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(data)  # NamedTemporaryFile makes its file 0600
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)


def secret_path(settings: Settings, name: str) -> Path:
    return settings.home / "secrets" / f"{settings.namespace}{name}"


def stored_secret(settings: Settings, name: str, create: bool = False) -> str | None:
    """The secret stored as ``name``; with ``create``, a new random one when there is none yet."""
    path = secret_path(settings, name)
    if path.is_file():
        os.chmod(path, FILE_MODE)
        return path.read_text(encoding="utf-8").strip() or None
    if not create:
        return None
    private_dir(path.parent)
    made = secrets.token_urlsafe(32)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(made + "\n")
    try:
        os.link(f.name, path)  # fails if another process stored one meanwhile: theirs is the secret
    except FileExistsError:
        made = path.read_text(encoding="utf-8").strip()
    finally:
        os.unlink(f.name)
    return made


def webhook_secret(settings: Settings, create: bool = False) -> str | None:
    """The key that signs webhooks whose subscription names no ``secret_env``: the ``webhook_secret`` setting,
    else the one stored in CANYU_HOME/secrets (with ``create``, made now if there is none)."""
    return settings.delivery.webhook_secret or stored_secret(settings, WEBHOOK_SECRET, create=create)


def ensure_webhook_secret(settings: Settings) -> str:
    """Make sure webhooks can always be signed (`canyu init`, `canyu up`); a line that says where the key is."""
    if settings.delivery.webhook_secret:
        return "webhook secret: the webhook_secret setting (CANYU_WEBHOOK_SECRET)"
    webhook_secret(settings, create=True)
    return f"webhook secret: in {secret_path(settings, WEBHOOK_SECRET)} (receivers check X-Canyu-Signature with it)"


def without_credentials(url: str) -> str:
    """A URL fit to show: ``http://user:secret@es:9200`` becomes ``http://es:9200``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))  # host and port as written
