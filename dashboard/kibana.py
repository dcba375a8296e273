"""Kibana saved objects equivalent to the page, for users of the compose stack's Kibana.

``kibana/canyu.ndjson`` holds data views (one per alias), visualizations, saved searches
and a dashboard. Data view titles are the aliases without a namespace; importing them
adds the namespace so they read the same indices as the page.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

SAVED_OBJECTS = Path(__file__).resolve().parent / "kibana" / "canyu.ndjson"


def load(path: Path = SAVED_OBJECTS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def namespaced(objects: list[dict], namespace: str) -> list[dict]:
    """The objects with every data view's title (its index pattern) prefixed by the namespace."""
    return [
        {**o, "attributes": {**o["attributes"], "title": namespace + o["attributes"]["title"]}}
        if o["type"] == "index-pattern"
        else o
        for o in objects
    ]


def import_objects(kibana_url: str, objects: list[dict], timeout_s: float = 60) -> dict:
    """Import through Kibana's saved objects API, replacing objects with the same ids; Kibana's answer."""
    ndjson = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects).encode()
    response = httpx.post(
        f"{kibana_url.rstrip('/')}/api/saved_objects/_import",
        params={"overwrite": "true"},
        headers={"kbn-xsrf": "canyu"},  # Kibana refuses API writes without it
        files={"file": ("canyu.ndjson", ndjson, "application/ndjson")},
        timeout=timeout_s,
    )
    response.raise_for_status()
    return response.json()
