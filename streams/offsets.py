"""Faust's offset bookkeeping: commit again what it believes committed, and show it.

faust-streaming 0.15 marks offsets as committed even when the commit failed:
``Consumer._commit_offsets`` updates its committed offsets whatever ``_commit`` returned, and
``_commit`` returns False quietly when Kafka refuses a commit because the group "already
rebalanced", as it may while a restarted broker brings the group back. Faust commits only
offsets past the ones it believes committed, so if that was the last commit before the
stream went quiet, Kafka keeps the older offset for good: ``canyu status`` shows lag that never
drains, the liveness check takes the worker for stalled, and a restart reads the tail again.
(Found by reading Faust's code while chasing another commit stall, ``streams/recovery.py``.)

What Faust believes committed was processed, and its outputs were flushed before the commit
was tried, so committing it again is safe, and a no-op when Kafka has it already.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from faust.types import ConsumerT

RECOMMIT_INTERVAL_S = 30.0


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
