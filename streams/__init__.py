"""The Faust worker: ``posts.raw`` → enrichment → ``posts.classified`` → the stateful step →
``posts.enriched``, alerts, feedback items, cascades, release impacts, notifications.

The room owns the agents, the stateful step's tables and rules (near-duplicates, counts and
spikes, feedback items, cascades, releases and fixes) and the worker's pages. It imports the
contract, the runtime, and one other room: ``models``, through its public interface only
(``load_classifier``, ``VersionFinder``), the one exception between the service rooms that
``.importlinter`` allows (``training``, which runs in no service, imports ``models`` too).
"""
