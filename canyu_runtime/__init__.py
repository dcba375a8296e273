"""canyu's runtime: the one way each room talks to Kafka and Elasticsearch, retries and dead-letters.

It sits between the contract (``canyu``: schema, topics, settings, templates) and the
rooms (``producers``, ``streams``, ``models``, ``sinks``, ``queries``, ``dashboard``),
and imports only the contract.
"""
