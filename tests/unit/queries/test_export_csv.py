"""CSV cells (canyu.csv_cells) and the export: what a poster wrote can never run as a spreadsheet formula."""

import csv
import io

from canyu.csv_cells import csv_cell
from queries.export import CsvWriter


def test_text_that_starts_like_a_formula_gets_a_leading_quote():
    for text in ('=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(text) == "'" + text
    assert csv_cell(["=1", "b"]) == "'=1;b"  # a joined list is one cell


def test_plain_text_numbers_and_missing_values_are_left_alone():
    assert csv_cell("电池续航太差了 = bad") == "电池续航太差了 = bad"
    assert csv_cell(-0.5) == -0.5 and csv_cell(0) == 0
    assert csv_cell(None) is None


def test_an_exported_row_carries_the_quoted_text():
    out = io.StringIO()
    CsvWriter(out).write([{"id": "weibo:1", "text": "=cmd|' /C calc'!A0", "topics": [{"id": "battery"}]}])
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["text"] == "'=cmd|' /C calc'!A0" and row["id"] == "weibo:1" and row["topics.id"] == "battery"


def test_full_width_formula_starts_are_made_inert_too():
    for text in ('＝HYPERLINK("http://evil")', "＋1+1", "－2+3", "＠SUM(A1)", "﹦1+1"):
        assert csv_cell(text) == "'" + text
    assert csv_cell("电池＝bad") == "电池＝bad"  # only at the start does it make a formula


def test_every_text_cell_is_quoted_so_a_semicolon_never_splits_one():
    out = io.StringIO()
    CsvWriter(out).write([{"id": "weibo:1", "text": "battery; screen", "topics": [{"id": "battery"}, {"id": "screen"}],
                           "engagement": {"likes": 3}}])  # fmt: skip
    line = out.getvalue().splitlines()[1]
    assert '"battery; screen"' in line and '"battery;screen"' in line and ",3," in line  # numbers stay numbers
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["text"] == "battery; screen" and row["engagement.likes"] == "3"


def test_the_dashboards_reporters_download_quotes_and_defuses_like_the_export():
    from canyu_runtime.reporters import COLUMNS, as_csv

    row = {column: "battery; screen" for column in COLUMNS} | {COLUMNS[-1]: "＝1+1"}
    header, line = "".join(as_csv([row])).splitlines()
    assert header == ",".join(COLUMNS)
    assert line.startswith('"battery; screen",') and line.endswith('"\'＝1+1"')
