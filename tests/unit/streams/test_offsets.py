"""``streams.offsets`` on Faust's own consumer, with only its Kafka calls replaced."""

from __future__ import annotations

import asyncio
from unittest.mock import AsyncMock

from faust.types import TP

from canyu.settings import Settings
from streams import offsets
from streams.app import create_app
from streams.offsets import Mender, ledger, recommit

OWNED, GONE = TP("t.posts.classified", 0), TP("t.posts.raw", 3)


def consumer_of(tmp_path, commits: list[dict], answers: list[bool]):
    """The worker app's consumer; ``_commit`` records what it is asked and answers from ``answers``."""
    app = create_app(Settings(home=tmp_path, worker_store="memory://", classifier="lexicon"))
    consumer = app.consumer
    consumer.assignment = lambda: {OWNED}
    app.producer.flush = AsyncMock()

    async def commit(offsets):
        commits.append(dict(offsets))
        return answers.pop(0)

    consumer._commit = commit
    return consumer


def test_faust_believes_a_refused_commit_and_recommit_sends_it_again(tmp_path):
    commits: list[dict] = []
    consumer = consumer_of(tmp_path, commits, answers=[False, True])

    async def scenario():
        for offset in range(10):
            consumer._acked[OWNED].append(offset)
        await consumer.commit()  # Kafka refuses it ("already rebalanced")
        believed = consumer._committed_offset[OWNED]
        again = await recommit(consumer)
        return believed, again

    believed, again = asyncio.run(scenario())
    # The upstream behaviour this module exists for: if Faust stops believing a refused commit, drop it.
    assert believed == 10
    assert again is True
    assert commits == [{OWNED: 10}, {OWNED: 10}]


def test_recommit_leaves_partitions_it_does_not_own_and_waits_its_turn(tmp_path):
    commits: list[dict] = []
    consumer = consumer_of(tmp_path, commits, answers=[True])

    async def scenario():
        consumer._committed_offset.update({OWNED: None, GONE: 40})
        nothing = await recommit(consumer)  # nothing committed yet that it owns
        consumer._committed_offset[OWNED] = 7
        consumer._commit_fut = asyncio.get_running_loop().create_future()  # Faust is committing
        busy = await recommit(consumer)
        consumer._commit_fut = None
        done = await recommit(consumer)
        return nothing, busy, done

    assert asyncio.run(scenario()) == (False, False, True)
    assert commits == [{OWNED: 7}]


def test_ledger_shows_acknowledged_offsets_waiting_on_a_lower_one(tmp_path):
    commits: list[dict] = []
    consumer = consumer_of(tmp_path, commits, answers=[True])
    consumer.highwater = lambda tp: 20

    async def scenario():
        consumer._acked[OWNED].extend([0, 1, 2])
        await consumer.commit()
        consumer._acked[OWNED].extend([5, 6])  # 3 and 4 not acknowledged yet
        consumer._read_offset[OWNED] = 6
        await consumer.commit()  # nothing to commit past the hole
        return ledger(consumer)

    seen = asyncio.run(scenario())
    assert seen["commit_running"] is False
    (row,) = seen["partitions"]
    assert commits == [{OWNED: 3}]
    assert row == {"topic": OWNED.topic, "partition": 0, "committed": 3, "read": 6, "highwater": 20,
                   "unacked": 0, "acked": 2, "lowest_acked": 5, "gaps": []}  # fmt: skip


def test_a_partition_stuck_behind_a_hole_for_a_whole_interval_is_read_again_from_its_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(offsets, "FLOW_PAUSE_S", 0)
    consumer = consumer_of(tmp_path, [], answers=[])
    sought, flow_during_seek = [], []

    async def seek(tp, offset):
        sought.append((tp, offset))
        flow_during_seek.append(consumer.flow_active)

    consumer.seek = seek
    mender = Mender()

    async def scenario():
        consumer._committed_offset[OWNED] = 10
        consumer._acked[OWNED].extend([14, 15])  # 10 to 13 never acknowledged, and nothing waiting
        first = await mender.mend(consumer)  # a suspect, not yet a verdict: it may be filled soon
        second = await mender.mend(consumer)
        return first, second

    first, second = asyncio.run(scenario())
    assert (first, second) == ({}, {OWNED: 10})
    assert sought == [(OWNED, 10)] and flow_during_seek == [False] and consumer.flow_active


def test_a_hole_that_a_waiting_record_or_a_new_commit_may_fill_is_left_alone(tmp_path):
    consumer = consumer_of(tmp_path, [], answers=[])
    mender = Mender()

    class Waiting:  # a record read and not acknowledged yet: it may be the missing offset
        tp = OWNED

    waiting = Waiting()

    async def scenario():
        consumer._committed_offset[OWNED] = 10
        consumer._acked[OWNED].extend([14, 15])
        consumer._unacked_messages.add(waiting)
        while_waiting = [await mender.mend(consumer), await mender.mend(consumer)]
        consumer._unacked_messages.discard(waiting)
        await mender.mend(consumer)
        consumer._committed_offset[OWNED] = 12  # commits moved: a new suspect
        moved = await mender.mend(consumer)
        consumer._acked[OWNED][:] = [13, 14, 15]  # one offset missing: Faust commits past it
        one = [await mender.mend(consumer), await mender.mend(consumer)]
        return while_waiting, moved, one

    assert asyncio.run(scenario()) == ([{}, {}], {}, [{}, {}])
