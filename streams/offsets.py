"""Faust's offset bookkeeping: keep its commits moving, and show it.

**A partition whose commits stopped for good.** Faust commits a partition only up to the first
offset it has not seen acknowledged. After a worker restart in the chaos test (first in
clean-clone CI, then here on a fresh stack), a few records right after the first commit were
never acknowledged, and nothing read was still waiting for its acknowledgement: so nothing
would ever fill the hole, and the worker never committed ``posts.classified`` again, while it
went on processing every later record. ``/offsets/`` showed it (:func:`ledger`): committed at
504, read to 10 660, the acknowledged offsets starting at 512, no record waiting. Reordering
Faust's recovery (seek before resuming the streams) did not prevent it, so the cause inside
Faust is not known. :class:`Mender` repairs it whatever the cause: a partition stuck at the
same committed offset for a whole interval is read again from there. Records after the hole
are then processed a second time, which the stateful step is built for (its offset stamps
count nothing twice, and what it sends again replaces itself downstream).

faust-streaming 0.15 marks offsets as committed even when the commit failed:
``Consumer._commit_offsets`` updates its committed offsets whatever ``_commit`` returned, and
``_commit`` returns False quietly when Kafka refuses a commit because the group "already
rebalanced", as it may while a restarted broker brings the group back. Faust commits only
offsets past the ones it believes committed, so if that was the last commit before the
stream went quiet, Kafka keeps the older offset for good: ``canyu status`` shows lag that never
drains, the liveness check takes the worker for stalled, and a restart reads the tail again.
(Found by reading Faust's code while chasing the stall above.)

What Faust believes committed was processed, and its outputs were flushed before the commit
was tried, so committing it again is safe, and a no-op when Kafka has it already.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from faust.types import TP, ConsumerT

log = logging.getLogger(__name__)
RECOMMIT_INTERVAL_S = 30.0
# Long enough for the fetcher to let go of the record it is handing over: it then records that
# record's offset as read, which would otherwise land after the seek and skip the hole again.
FLOW_PAUSE_S = 0.5


def stuck(consumer: ConsumerT) -> dict[TP, int]:
    """Owned partitions whose commits cannot move: an offset past the committed one was never
    acknowledged, and no record read is waiting for its acknowledgement, so none will come.
    Each maps to its committed offset. (Faust itself commits past a hole of one offset.)"""
    waiting = {message.tp for message in list(consumer._unacked_messages)}
    holes = {}
    for tp in consumer.assignment():
        acked, committed = consumer._acked.get(tp), consumer._committed_offset.get(tp)
        if acked and committed is not None and tp not in waiting and not consumer._gap.get(tp):
            if min(acked) > committed + 1:
                holes[tp] = committed
    return holes


class Mender:
    """Reads a partition again from its committed offset once it stayed :func:`stuck` there for
    a whole interval between two calls of :meth:`mend`."""

    def __init__(self) -> None:
        self.suspects: dict[TP, int] = {}

    async def mend(self, consumer: ConsumerT) -> dict[TP, int]:
        """The partitions read again, each from the offset it was stuck at."""
        holes = stuck(consumer)
        again = {tp: offset for tp, offset in holes.items() if self.suspects.get(tp) == offset}
        self.suspects = holes
        if not again or not consumer.flow_active:  # a rebalance is under way: it seeks anyway
            return {}
        consumer.stop_flow()
        try:
            await asyncio.sleep(FLOW_PAUSE_S)
            for tp, offset in again.items():
                log.warning("%s[%d]: commits stuck at %d, an offset after it never acknowledged; reading again from it",
                            tp.topic, tp.partition, offset)  # fmt: skip
                await consumer.seek(tp, offset)
        finally:
            if not consumer.app.rebalancing:
                consumer.resume_flow()
        return again


async def recommit(consumer: ConsumerT) -> bool:
    """Commit the believed offsets of the partitions this worker owns; False when there was
    nothing to commit, a commit of Faust's was running (its offsets are newer), or Kafka refused."""
    if consumer._commit_fut is not None:
        return False
    assigned = consumer.assignment()
    believed = {tp: offset for tp, offset in consumer._committed_offset.items() if offset and tp in assigned}
    if not believed:
        return False
    # Faust's own commits wait for this future and then skip: one commit at a time, never an older one last.
    consumer._commit_fut = done = asyncio.get_running_loop().create_future()
    try:
        return await consumer._commit(believed)
    finally:
        consumer._commit_fut = None
        done.set_result(None)


def ledger(consumer: ConsumerT) -> dict:
    """Faust's offset bookkeeping, for an operator (and the chaos test) to see why a commit does
    not advance: whether a commit is under way and, for each partition this worker owns, the
    offset it believes committed, the last offset read, reads not yet acknowledged, and the
    acknowledged offsets that wait on a lower one."""
    unacked = Counter(message.tp for message in list(consumer._unacked_messages))
    rows = []
    for tp in sorted(consumer.assignment()):
        acked = consumer._acked.get(tp) or []
        rows.append(
            {
                "topic": tp.topic,
                "partition": tp.partition,
                "committed": consumer._committed_offset.get(tp),
                "read": consumer._read_offset.get(tp),
                "highwater": consumer.highwater(tp),
                "unacked": unacked[tp],
                "acked": len(acked),
                "lowest_acked": min(acked) if acked else None,
                "gaps": [[gap.begin, gap.end] for gap in sorted(consumer._gap.get(tp) or [])][:10],
            }
        )
    return {"commit_running": consumer._commit_fut is not None, "partitions": rows}
