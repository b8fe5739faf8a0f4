"""The hand-off between presence (sync) and the outbox (async): with the drain stalled (a
slow disk), sampled tag_seen beyond the cap is dropped and counted, while every visit and
alarm is kept and comes out first, in order."""

from __future__ import annotations

import asyncio

from edge.patrol.handoff import Handoff


async def test_a_stalled_drain_drops_only_sampled_outputs_and_decisions_come_first() -> None:
    lane: Handoff[str] = Handoff(sampled_cap=100)
    for i in range(1_000):
        lane.put(f"seen-{i}", sampled=True)
        if i % 100 == 0:
            lane.put(f"visit-{i}")
    assert lane.status() == {"queued": 110, "dropped_tag_seen": 900, "high_water": 10}
    got = [await lane.get() for _ in range(len(lane))]
    assert got[:10] == [f"visit-{i}" for i in range(0, 1_000, 100)]
    assert got[10:] == [f"seen-{i}" for i in range(100)]


async def test_get_waits_for_the_next_output() -> None:
    lane: Handoff[str] = Handoff()
    waiter = asyncio.create_task(lane.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    lane.put("visit")
    async with asyncio.timeout(1):
        assert await waiter == "visit"
