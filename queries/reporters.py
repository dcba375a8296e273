"""Who reported a feedback item, for ``canyu item reporters``: the rows are ``canyu_runtime.reporters``'.

The rows, their columns and the query live in the runtime, so the dashboard's download (a room
that may not import this one) writes the same rows; the CLI writes them with the export's
writers (``queries.export``) and imports them from here.
"""

from __future__ import annotations

from canyu_runtime.reporters import COLUMNS, FORMATS, TEXT_CHARS, reporter, reporters_query, shortened

__all__ = ["COLUMNS", "FORMATS", "TEXT_CHARS", "reporter", "reporters_query", "shortened"]
