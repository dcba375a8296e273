"""The local stack: a real Kafka broker and a real Elasticsearch node, without Docker."""
