"""The Kibana saved objects (dashboard/kibana/canyu.ndjson) hold together, and `canyu kibana import` sends them.

Kibana cannot run here, so this checks what an import would trip over: lines that are
not JSON, duplicate ids, references to objects that are not in the file, and fields
that the index templates in canyu/conf/ do not map (a data view cannot chart those).
"""

from __future__ import annotations

import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from canyu_cli.cli import app
from dashboard.kibana import SAVED_OBJECTS, load, namespaced

CONF = Path(__file__).resolve().parents[3] / "canyu" / "conf"
KINDS = {"index-pattern", "visualization", "search", "dashboard"}


def mapped_fields(properties: dict, prefix: str = "") -> set[str]:
    fields = set()
    for name, spec in properties.items():
        path = prefix + name
        fields.add(path)
        fields |= mapped_fields(spec.get("properties", {}), f"{path}.")
        fields |= {f"{path}.{sub}" for sub in spec.get("fields", {})}
    return fields


def fields_of(title: str) -> set[str]:
    template = CONF / f"{title}.template.json"
    assert template.is_file(), f"data view {title!r} has no index template {template.name} in canyu/conf/"
    return mapped_fields(json.loads(template.read_text())["mappings"]["properties"])


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return load()


def by_id(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["type"], o["id"]): o for o in objects}


def data_view_of(obj: dict, objects: list[dict]) -> dict:
    (ref,) = [r for r in obj["references"] if r["name"] == "kibanaSavedObjectMeta.searchSourceJSON.index"]
    return by_id(objects)[(ref["type"], ref["id"])]


def test_every_line_is_one_json_object_of_a_known_type_with_a_unique_id() -> None:
    lines = [line for line in SAVED_OBJECTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(o, dict) and o["type"] in KINDS and o["id"] and o["attributes"]["title"] for o in parsed)
    assert len({(o["type"], o["id"]) for o in parsed}) == len(parsed), "duplicate ids"
    assert {o["type"] for o in parsed} == KINDS


def test_every_reference_resolves_to_an_object_in_the_file(objects) -> None:
    known = by_id(objects)
    for o in objects:
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in known, f"{o['id']} refers to a missing {ref['type']} {ref['id']}"


def test_data_views_name_a_mapped_time_field_of_their_template(objects) -> None:
    views = [o for o in objects if o["type"] == "index-pattern"]
    assert {v["attributes"]["title"] for v in views} == {"posts", "alerts", "feedback-items", "cascades",
                                                         "release-impacts"}  # fmt: skip
    for view in views:
        assert view["attributes"]["timeFieldName"] in fields_of(view["attributes"]["title"])


def test_visualizations_and_searches_use_only_mapped_fields(objects) -> None:
    for o in objects:
        if o["type"] not in ("visualization", "search"):
            continue
        mapped = fields_of(data_view_of(o, objects)["attributes"]["title"])
        attrs = o["attributes"]
        if o["type"] == "visualization":
            vis = json.loads(attrs["visState"])
            used = {agg["params"]["field"] for agg in vis["aggs"] if "field" in agg["params"]}
            assert used, o["id"]
        else:
            used = set(attrs["columns"]) | {field for field, _ in attrs["sort"]}
        assert used <= mapped, f"{o['id']} uses unmapped fields {sorted(used - mapped)}"
        source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["indexRefName"] in {r["name"] for r in o["references"]}


def test_the_dashboard_places_every_visualization_and_search_once(objects) -> None:
    (board,) = [o for o in objects if o["type"] == "dashboard"]
    panels = json.loads(board["attributes"]["panelsJSON"])
    refs = {r["name"]: (r["type"], r["id"]) for r in board["references"]}
    placed = [refs[p["panelRefName"]] for p in panels]
    assert sorted(placed) == sorted((o["type"], o["id"]) for o in objects if o["type"] in ("visualization", "search"))
    assert len({p["panelIndex"] for p in panels}) == len(panels)
    for p in panels:
        assert p["gridData"]["x"] + p["gridData"]["w"] <= 48, "Kibana's grid is 48 columns wide"


def test_namespacing_prefixes_only_the_data_views(objects) -> None:
    renamed = namespaced(objects, "team1.")
    for before, after in zip(objects, renamed, strict=True):
        expected = (
            "team1." + before["attributes"]["title"]
            if before["type"] == "index-pattern"
            else before["attributes"]["title"]
        )
        assert after["attributes"]["title"] == expected
    assert objects == load(), "the loaded objects are not changed in place"


class FakeKibana(BaseHTTPRequestHandler):
    """Answers the saved objects import API the way Kibana does, and keeps what it was sent."""

    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers["content-length"]))
        head = f"content-type: {self.headers['content-type']}\r\n\r\n".encode()
        (part,) = BytesParser(policy=HTTP).parsebytes(head + body).iter_parts()
        lines = part.get_payload(decode=True).decode().splitlines()
        self.received.append({"path": self.path, "xsrf": self.headers.get("kbn-xsrf"), "filename": part.get_filename(),
                              "field": part.get_param("name", header="content-disposition"),
                              "objects": [json.loads(line) for line in lines]})  # fmt: skip
        body = json.dumps({"success": True, "successCount": len(lines)}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_canyu_kibana_import_posts_the_namespaced_objects_to_the_import_api(objects, monkeypatch) -> None:
    server = HTTPServer(("127.0.0.1", 0), FakeKibana)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("CANYU_NAMESPACE", "team1.")
    from canyu.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["kibana", "import", "--url", f"http://127.0.0.1:{server.server_port}"])
    finally:
        server.shutdown()
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    assert f"imported {len(objects)} of {len(objects)} saved objects" in result.output
    (call,) = FakeKibana.received
    assert call["path"] == "/api/saved_objects/_import?overwrite=true"
    assert call["xsrf"] and call["field"] == "file" and call["filename"].endswith(".ndjson")
    assert call["objects"] == namespaced(objects, "team1.")


def test_canyu_kibana_import_fails_clearly_when_kibana_is_not_there() -> None:
    result = CliRunner().invoke(app, ["kibana", "import", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "Kibana at http://127.0.0.1:9 did not take the import" in result.output
