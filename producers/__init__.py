"""Producers: sources (Weibo, Discourse, RSS/Atom/Discuz!, Reddit, JSONL replay) → ``posts.raw``.

The room owns polling, each source's ``map_item`` to the common ``Post``, cursors and high-water
marks, and the producers' metrics. It imports the contract (``canyu``) and the runtime
(``canyu_runtime``: Kafka clients, the outbound guard, retry, dead letters), never another room.
"""
