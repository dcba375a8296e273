"""``streams.recovery``: a restarted worker seeks its streams before it reads them."""

from __future__ import annotations

import asyncio
from unittest.mock import AsyncMock

from faust.types import TP

from canyu.settings import Settings
from streams.app import create_app
from streams.recovery import SeekFirstRecovery


def test_streams_are_sought_before_they_are_read_and_nothing_is_read_before_the_queues_are_emptied(tmp_path):
    app = create_app(Settings(home=tmp_path, worker_store="memory://", classifier="lexicon"))
    recovery = app.tables.recovery
    assert isinstance(recovery, SeekFirstRecovery)
    stream, changelog = TP("t.posts.classified", 0), TP(next(iter(app.tables.changelog_topics)), 0)
    consumer, calls = app.consumer, []
    consumer.assignment = lambda: {stream, changelog}

    async def perform_seek():
        calls.append("seek")
        await asyncio.sleep(0.01)  # a round trip to Kafka: the event loop runs meanwhile

    async def wait(coro, timeout):  # Faust's Recovery._wait, less its watch on a service never started here
        return await coro

    consumer.perform_seek, recovery._wait = perform_seek, wait
    consumer.resume_partitions = lambda tps: calls.append(("read", sorted(tps)))
    consumer.resume_flow = lambda: None
    app.flow_control.resume = lambda: calls.append("queues emptied")
    app._fetcher.maybe_start = AsyncMock()

    async def scenario():
        async def fetcher():  # stands for every other task: each step is a chance to read a record
            while True:
                calls.append("loop ran")
                await asyncio.sleep(0)

        running = asyncio.create_task(fetcher())
        await asyncio.sleep(0)
        await recovery._resume_streams(app.consumer_generation_id)
        running.cancel()

    asyncio.run(scenario())
    steps = [c for c in calls if c != "loop ran"]
    assert steps == ["seek", ("read", [stream]), "queues emptied"]
    between = calls[calls.index(("read", [stream])) : calls.index("queues emptied")]
    assert "loop ran" not in between
