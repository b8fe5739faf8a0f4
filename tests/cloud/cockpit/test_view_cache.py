"""Wall screens asking for one view together share one computation (cloud/cockpit/cache.py)."""

from __future__ import annotations

import asyncio

import pytest

from cloud.cockpit.cache import ViewCache


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def test_requests_inside_the_window_share_one_computation_and_later_ones_recompute() -> None:
    clock, calls = Clock(), []

    async def compute() -> dict[str, int]:
        calls.append(clock.t)
        return {"n": len(calls)}

    cache = ViewCache(1.0, clock)
    assert await cache.get("site-1", compute) == {"n": 1}
    clock.t += 0.9
    assert await cache.get("site-1", compute) == {"n": 1}
    assert await cache.get("site-2", compute) == {"n": 2}  # another view is its own
    clock.t += 0.2  # 1.1 s after the first computation started
    assert await cache.get("site-1", compute) == {"n": 3}


async def test_requests_that_arrive_during_a_computation_wait_for_it() -> None:
    release = asyncio.Event()
    calls = 0

    async def compute() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "view"

    cache = ViewCache(1.0)
    waiters = [asyncio.create_task(cache.get("s", compute)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiters) == ["view"] * 20
    assert calls == 1


async def test_a_failed_or_abandoned_computation_is_not_shared() -> None:
    release = asyncio.Event()
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return f"view {calls}"

    cache = ViewCache(1.0)
    first = asyncio.create_task(cache.get("s", slow))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.get("s", slow))
    await asyncio.sleep(0)
    first.cancel()  # the browser that asked first went away
    await asyncio.sleep(0)
    release.set()
    assert await second == "view 2"  # the second asker computed for itself
    with pytest.raises(asyncio.CancelledError):
        await first

    async def broken() -> str:
        raise ValueError("panel failed")

    with pytest.raises(ValueError):
        await cache.get("t", broken)


async def test_zero_computes_every_request() -> None:
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        return calls

    cache = ViewCache(0.0)
    assert [await cache.get("s", compute) for _ in range(3)] == [1, 2, 3]
