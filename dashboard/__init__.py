"""The live dashboard: one page and a small JSON API over the Elasticsearch indices, and the
Kibana saved objects for compose users.

It reads the aliases named in canyu.settings directly with the official client, manages
alert subscriptions through canyu_runtime.subscriptions and changes feedback items through
canyu_runtime.items; it imports the contract and the runtime, and no other room.
"""
