"""Resume a restarted worker's streams without losing track of the records read first.

faust-streaming 0.15's ``Recovery._resume_streams``, once the tables are restored, lets the
fetcher read the stream partitions, then awaits a seek to their committed offsets, then resumes
flow, which empties every stream's queue. Records read during that seek are lost twice over:

- the queue they wait in is emptied, so nobody processes or acknowledges them;
- the fetcher then records its own last read offset over the one the seek set, so they are not
  read again.

Faust commits only up to the first offset it has not seen acknowledged, so from then on the
worker never committed that partition again: lag that never drained, and a restart that read
everything since. The chaos test met it in clean-clone CI, right after the worker was killed
and restarted: ``/offsets/`` showed ``posts.classified`` committed at 592, read to 10 276, with
the acknowledged offsets starting at 597 and none waiting.

Here the seek comes first, while the stream partitions are still paused, and nothing is awaited
between resuming them and resuming flow, so no record can be read before the queues are emptied.
"""

from __future__ import annotations

from faust.tables import TableManager
from faust.tables.recovery import Recovery


class SeekFirstRecovery(Recovery):
    async def _resume_streams(self, generation_id: int = 0) -> None:
        # Faust's own, with the seek moved before ``resume_partitions``.
        app = self.app
        consumer = app.consumer
        await app.on_rebalance_complete.send()
        assignment = consumer.assignment()
        if self.app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
            consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
        else:
            self.log.info("Resuming streams with empty assignment")
        self.completed.set()
        self.log.info("Resuming flow...")
        app.flow_control.resume()
        consumer.resume_flow()
        await app._fetcher.maybe_start()
        self.tables.on_actives_ready()
        self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")


class SeekFirstTableManager(TableManager):
    """Faust's table manager, with :class:`SeekFirstRecovery` (``faust.App(TableManager=...)``)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
