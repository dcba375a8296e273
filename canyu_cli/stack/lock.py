"""Regenerate artifacts.json: ``python -m canyu_cli.stack.lock``. A maintainer's tool; needs Maven.

Users never run this: the stack reads the committed lock file and needs only Java.
Maven resolves Kafka's runtime dependency tree once; every file is then fetched from
Maven Central, checked against the repository's .sha1, and pinned by sha256.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from canyu_cli.stack.artifacts import LOCK_FILE, Artifact, download, sha256_of

REPOSITORY = "https://repo1.maven.org/maven2"
KAFKA_VERSION = "4.1.1"
ELASTICSEARCH_VERSION = "8.19.21"
JAVA = {"kafka": 17, "elasticsearch": 17}
# Kafka's pom declares slf4j-api but no binding; without one the broker logs nothing.
KAFKA_EXTRA = ["org.apache.logging.log4j:log4j-slf4j-impl:2.24.3"]

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>canyu</groupId><artifactId>lock</artifactId><version>0</version><dependencies>{deps}</dependencies></project>"""
DEP = "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version></dependency>"


def resolve_kafka(workdir: Path) -> list[str]:
    roots = [f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}", *KAFKA_EXTRA]
    (workdir / "pom.xml").write_text(POM.format(deps="".join(DEP.format(*r.split(":")) for r in roots)))
    listing = workdir / "deps.txt"
    subprocess.run(
        ["mvn", "-q", "-B", "dependency:list", "-DincludeScope=runtime", f"-DoutputFile={listing}"],
        cwd=workdir,
        check=True,
    )
    coords = []
    for line in listing.read_text().splitlines():
        parts = line.strip().split(":")
        if len(parts) >= 5 and parts[2] == "jar":
            coords.append(f"{parts[0]}:{parts[1]}:{parts[3]}")
    return sorted(coords)


def pin(coords: str, workdir: Path) -> dict[str, str]:
    unpinned = Artifact(coords, "")
    url = unpinned.url(REPOSITORY)
    path = workdir / unpinned.filename
    download(url, path, unpinned.filename)
    published = httpx.get(url + ".sha1", timeout=60, follow_redirects=True).raise_for_status().text.split()[0]
    actual = hashlib.sha1(path.read_bytes()).hexdigest()
    if actual != published:
        sys.exit(f"{coords}: sha1 {actual} does not match Maven Central's {published}")
    return {"coords": coords, "sha256": sha256_of(path)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        kafka = resolve_kafka(workdir)
        es = [f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ELASTICSEARCH_VERSION}:zip"]
        lock = {
            "repository": REPOSITORY,
            "servers": {
                "kafka": {
                    "version": KAFKA_VERSION,
                    "java": JAVA["kafka"],
                    "artifacts": [pin(c, workdir) for c in kafka],
                },
                "elasticsearch": {
                    "version": ELASTICSEARCH_VERSION,
                    "java": JAVA["elasticsearch"],
                    "artifacts": [pin(c, workdir) for c in es],
                },
            },
        }
    out = Path(__file__).with_name(LOCK_FILE)
    out.write_text(json.dumps(lock, indent=2) + "\n")
    print(f"wrote {out}: kafka {KAFKA_VERSION} ({len(kafka)} jars), elasticsearch {ELASTICSEARCH_VERSION}")


if __name__ == "__main__":
    main()
