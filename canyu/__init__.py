"""canyu (参与): the contract every layer shares, and nothing else.

It owns the records (``schema``), topic names, settings, index names and templates
(``conf/*.json``), the filters that become Elasticsearch queries, versions and the item
state machine, and the sample corpus. It reads only its own files: no Kafka, Elasticsearch,
HTTP or Faust (``.importlinter`` forbids them), and it imports no other canyu package.
"""

__version__ = "0.1.0"
