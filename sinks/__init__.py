"""Sinks: consume enriched topics and write them where users read them."""
