"""Producers: bring posts from their sources onto ``posts.raw``."""
