"""CSV cells that are safe to open in a spreadsheet: one rule for every CSV canyu writes.

Pure. A cell of text that starts like a spreadsheet formula (``=``, ``+``, ``-``, ``@``, a tab
or a carriage return) gets a leading ``'``, so opening a file never runs what a poster wrote;
lists are joined into one cell. ``canyu export`` and the dashboard's downloads both use it.
"""

from __future__ import annotations

LIST_SEPARATOR = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A value as a CSV cell: lists joined, and text that a spreadsheet would run as a formula made inert."""
    if isinstance(value, list):
        value = LIST_SEPARATOR.join(map(str, value))
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
