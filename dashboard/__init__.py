"""The live dashboard: one page and a small JSON API over the Elasticsearch indices.

It reads the aliases named in canyu.settings directly with the official client, manages
alert subscriptions through canyu_runtime.subscriptions and changes feedback items through
canyu_runtime.items; it imports no other room.
"""
