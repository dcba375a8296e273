"""canyu's runtime: the one way each room talks to Kafka and Elasticsearch, retries and dead-letters.

It owns the client factories (Kafka producer, consumer and admin; Elasticsearch), topic
creation and index migrations, the compacted-topic registries and their followers
(subscriptions, releases, item lifecycles), the one retry policy and ``wait_until``, the one
dead-letter writer and error-to-reason function, the outbound address guard, bounded
decoding, private files, metrics and lag, and what the dashboard shares with the CLI
(item changes, reporters). It sits between the contract (``canyu``) and the rooms
(``producers``, ``streams``, ``models``, ``sinks``, ``queries``, ``dashboard``), and imports
only the contract.
"""
