"""Queries: read the index the sinks write."""
