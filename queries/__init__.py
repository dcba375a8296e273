"""Queries: read the index the sinks write (``canyu search``, ``canyu export``, reporters,
release reports).

The room owns search, aggregations, exports and their formats. It imports the contract and
the runtime, never another room; what the dashboard shares with it lives below, in
``canyu`` (filters, CSV cells) or ``canyu_runtime`` (paging, reporters).
"""
