"""Find a Java runtime new enough for a server, or say exactly what is missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path


class JavaNotFound(RuntimeError):
    pass


def java_version(java: Path) -> int | None:
    """The feature version (17, 21, ...) of a java executable, or None if it does not run."""
    try:
        proc = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older print "1.8.0_x".
    return int(match.group(2)) if major == 1 and match.group(2) else major


def _candidates() -> list[Path]:
    homes = [os.environ.get(v) for v in ("CANYU_JAVA_HOME", "JAVA_HOME")]
    found = [Path(h) / "bin" / "java" for h in homes if h]
    on_path = shutil.which("java")
    if on_path:
        found.append(Path(on_path))
    jvm_dir = Path("/usr/lib/jvm")
    if jvm_dir.is_dir():
        found += sorted(jvm_dir.glob("*/bin/java"))
    return [j for j in dict.fromkeys(found) if j.exists()]


def find_java(minimum: int, server: str) -> Path:
    """The first Java at or above ``minimum``: CANYU_JAVA_HOME, JAVA_HOME, PATH, /usr/lib/jvm."""
    seen: list[str] = []
    for java in _candidates():
        version = java_version(java)
        if version is not None and version >= minimum:
            return java
        seen.append(f"{java} (Java {version if version is not None else '?'})")
    detail = "found only: " + ", ".join(seen) if seen else "no java executable was found"
    raise JavaNotFound(
        f"{server} needs Java {minimum} or newer; {detail}. "
        f"Install a JDK {minimum}+ (for example Debian's openjdk-{minimum}-jre-headless or Temurin) "
        "and point CANYU_JAVA_HOME or JAVA_HOME at it."
    )
