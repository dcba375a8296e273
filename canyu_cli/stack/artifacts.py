"""Pinned server artifacts from Maven Central, downloaded once and checked by sha256."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx
from tqdm import tqdm

LOCK_FILE = "artifacts.json"


class ChecksumMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class Artifact:
    """``group:artifact:version[:ext]`` on a Maven repository."""

    coords: str
    sha256: str

    @property
    def parts(self) -> tuple[str, str, str, str]:
        group, artifact, version, *rest = self.coords.split(":")
        return group, artifact, version, (rest[0] if rest else "jar")

    @property
    def filename(self) -> str:
        _, artifact, version, ext = self.parts
        return f"{artifact}-{version}.{ext}"

    def url(self, repository: str) -> str:
        group, artifact, version, _ = self.parts
        return f"{repository}/{group.replace('.', '/')}/{artifact}/{version}/{self.filename}"


@dataclass(frozen=True)
class ServerPin:
    version: str
    java: int
    artifacts: tuple[Artifact, ...]


def load_pins() -> tuple[str, dict[str, ServerPin]]:
    """The Maven repository and each server's pinned version, Java and artifacts."""
    data = json.loads((resources.files(__package__) / LOCK_FILE).read_text())
    pins = {
        name: ServerPin(
            version=spec["version"],
            java=spec["java"],
            artifacts=tuple(Artifact(a["coords"], a["sha256"]) for a in spec["artifacts"]),
        )
        for name, spec in data["servers"].items()
    }
    return data["repository"], pins


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: Path, label: str) -> None:
    tmp = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with httpx.stream("GET", url, timeout=60, follow_redirects=True) as response:
        response.raise_for_status()
        total = int(response.headers.get("Content-Length") or 0) or None
        small = total is not None and total < 10_000_000  # the per-file bar of fetch_all is enough
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False, disable=small)
        with bar, tmp.open("wb") as out:
            for chunk in response.iter_bytes(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))
    tmp.replace(dest)


def fetch_all(artifacts: tuple[Artifact, ...], repository: str, cache: Path, label: str) -> list[Path]:
    missing = sum(1 for a in artifacts if not (cache / a.filename).exists())
    with tqdm(total=len(artifacts), unit="file", desc=f"{label} artifacts", disable=not missing) as bar:
        paths = []
        for artifact in artifacts:
            paths.append(fetch(artifact, repository, cache))
            bar.update()
    return paths


def fetch(artifact: Artifact, repository: str, cache: Path) -> Path:
    """The artifact's path in the cache, downloading it first if needed; always checksummed."""
    path = cache / artifact.filename
    if path.exists() and sha256_of(path) == artifact.sha256:
        return path
    download(artifact.url(repository), path, artifact.filename)
    actual = sha256_of(path)
    if actual != artifact.sha256:
        path.unlink()
        raise ChecksumMismatch(
            f"{artifact.coords} from {artifact.url(repository)} has sha256 {actual}, "
            f"expected {artifact.sha256}; the download was deleted"
        )
    return path
