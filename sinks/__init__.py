"""Sinks: topics → where users read them. Elasticsearch (posts, alerts, feedback items, cascades,
release impacts), notifications → webhooks, Slack, email, Kafka (``delivery``), and retention.

The room owns the batch sink base class, the index routes, delivery and retention. It
imports the contract and the runtime, never another room.
"""
