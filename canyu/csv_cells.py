"""CSV cells that are safe to open in a spreadsheet: one rule for every CSV canyu writes.

Pure. A cell of text that starts like a spreadsheet formula (``=``, ``+``, ``-``, ``@``, a tab
or a carriage return, or their full-width forms such as ``＝``, which some spreadsheets read
the same) gets a leading ``'``, so opening a file never runs what a poster wrote; lists are
joined into one cell. Every text cell is quoted (``QUOTING``): a spreadsheet in a locale whose
separator is ``;`` would otherwise split a cell that holds one. ``canyu export`` and the
dashboard's downloads both use it.
"""

from __future__ import annotations

import csv
import unicodedata

LIST_SEPARATOR = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTING = csv.QUOTE_NONNUMERIC  # the rows' quoting: text always quoted, numbers bare


def csv_cell(value: object) -> object:
    """A value as a CSV cell: lists joined, and text that a spreadsheet would run as a formula made inert."""
    if isinstance(value, list):
        value = LIST_SEPARATOR.join(map(str, value))
    if isinstance(value, str) and unicodedata.normalize("NFKC", value[:1]).startswith(FORMULA_STARTS):
        return "'" + value  # NFKC: a full-width ＝ (or ﹦, ＋, －, ＠) is the plain character
    return value
