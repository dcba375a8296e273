"""Stream the posts matching a query to JSONL, CSV or Parquet, one page at a time.

Memory stays constant whatever the number of matches: a page of hits is read
(``canyu_runtime.elastic.pages``), written and dropped before the next one is asked for.
JSONL keeps each document whole. CSV and Parquet have one column per indexed
field of the posts mapping (``canyu/conf/posts.template.json``), so the
columns and the field reference cannot disagree; list fields (topics,
products) are lists in Parquet and ``;``-joined in CSV. A CSV cell of text that
starts like a spreadsheet formula gets a leading ``'``, and every text cell is quoted
(``canyu.csv_cells``), so opening an export never runs what a poster wrote.
"""

from __future__ import annotations

import csv
import json
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from elasticsearch import Elasticsearch

from canyu.csv_cells import QUOTING, csv_cell
from canyu.indices import load_template
from canyu.schema import EnrichedPost
from canyu_runtime.elastic import pages

FORMATS = ("jsonl", "csv", "parquet")


def mapped_leaves(properties: dict, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, type) of every field of a mapping that holds values; disabled objects are skipped."""
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            yield from mapped_leaves(spec["properties"], f"{path}.")
        elif spec.get("enabled", True):
            yield path, spec["type"]


def _is_list(path: str) -> bool:
    annotation = EnrichedPost.model_fields[path.split(".")[0]].annotation
    return typing.get_origin(annotation) is list


COLUMNS: list[tuple[str, str, bool]] = [
    (path, kind, _is_list(path)) for path, kind in mapped_leaves(load_template("posts")["mappings"]["properties"])
]


def _dig(doc: dict, path: str):
    """The value at a dotted path; a list of values where the path crosses a list."""
    value: object = doc
    for part in path.split("."):
        if isinstance(value, list):
            value = [item.get(part) for item in value]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def flatten(doc: dict) -> dict:
    return {path: _dig(doc, path) for path, _, _ in COLUMNS}


class Writer(ABC):
    @abstractmethod
    def write(self, docs: list[dict]) -> None: ...

    def close(self) -> None:
        """Finish the file."""


class JsonlWriter(Writer):
    def __init__(self, out: IO[str]):
        self.out = out

    def write(self, docs: list[dict]) -> None:
        self.out.writelines(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)


class CsvWriter(Writer):
    """One column per dotted path: the posts mapping's fields unless ``columns`` names others."""

    def __init__(self, out: IO[str], columns: list[str] | None = None):
        self.columns = columns or [path for path, _, _ in COLUMNS]
        csv.writer(out).writerow(self.columns)  # the header: field names, which need no quotes
        self.writer = csv.DictWriter(out, fieldnames=self.columns, quoting=QUOTING)

    def write(self, docs: list[dict]) -> None:
        for doc in docs:
            self.writer.writerow({path: csv_cell(_dig(doc, path)) for path in self.columns})


class ParquetWriter(Writer):
    def __init__(self, path: Path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        types = {
            "keyword": pa.string(),
            "text": pa.string(),
            "date": pa.timestamp("us", tz="UTC"),
            "long": pa.int64(),
            "float": pa.float64(),
            "double": pa.float64(),
            "boolean": pa.bool_(),
        }
        self.pa = pa
        self.schema = pa.schema(
            [(path, pa.list_(types[kind]) if is_list else types[kind]) for path, kind, is_list in COLUMNS]
        )
        self.dates = [path for path, kind, _ in COLUMNS if kind == "date"]
        self.file = pq.ParquetWriter(path, self.schema, compression="zstd")

    def write(self, docs: list[dict]) -> None:
        rows = [flatten(doc) for doc in docs]
        for row in rows:  # Arrow wants datetimes, the index gives ISO strings
            for path in self.dates:
                if row[path] is not None:
                    row[path] = datetime.fromisoformat(row[path])
        self.file.write_table(self.pa.Table.from_pylist(rows, schema=self.schema))  # one row group per page

    def close(self) -> None:
        self.file.close()


def open_writer(
    fmt: str, path: Path | None, stdout: IO[str], columns: list[str] | None = None
) -> tuple[Writer, IO[str] | None]:
    """The writer for ``fmt``, and the text file it writes to when the caller must close it.

    ``columns``: a CSV's columns, for documents that are not posts (``CsvWriter``)."""
    if fmt == "parquet":
        if path is None:
            raise ValueError("Parquet needs a file: give --output FILE.parquet")
        return ParquetWriter(path), None
    out = path.open("w", encoding="utf-8", newline="") if path else stdout
    return (JsonlWriter(out) if fmt == "jsonl" else CsvWriter(out, columns)), (out if path else None)


def export(
    es: Elasticsearch, alias: str, query: dict, writer: Writer, page_size: int = 1000, progress=None, row=None
) -> int:
    """Write every match, or ``row(source)`` of each; ``progress(n)`` hears of each page. Returns how many
    documents were written."""
    written = 0
    for hits in pages(es, alias, query, size=page_size):
        writer.write([row(hit["_source"]) if row else hit["_source"] for hit in hits])
        written += len(hits)
        if progress:
            progress(len(hits))
    writer.close()
    return written
