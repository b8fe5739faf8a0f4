"""An open-loop HTTP load: requests leave on schedule whether or not earlier ones returned,
so a slow console shows as queueing latency (measured from each request's scheduled
departure), not as a politely lower offered rate."""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Load:
    requests: int = 0
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    #: HTTP status → count; 0 counts client errors and timeouts.
    statuses: dict[int, int] = field(default_factory=dict)

    def quantile_ms(self, p: int) -> float:
        """The ``p``-th percentile latency in milliseconds."""
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


async def offer(http: aiohttp.ClientSession, next_path: Callable[[], str], rate: float,
                seconds: float) -> Load:
    """Send ``rate`` requests/s for ``seconds`` (at least two requests)."""
    load = Load(requests=max(2, int(seconds * rate)))
    # The generator's own full collections (its heap holds the seeding's modules) would stall
    # departures and show as the console's latency.
    gc.collect()
    gc.freeze()

    async def one(path: str, due: float) -> None:
        try:
            async with http.get(path) as r:
                await r.read()
                load.statuses[r.status] = load.statuses.get(r.status, 0) + 1
        except (aiohttp.ClientError, TimeoutError):
            load.statuses[0] = load.statuses.get(0, 0) + 1
        load.latencies.append(time.perf_counter() - due)

    t0 = time.perf_counter() + 0.1
    tasks = []
    try:
        for i in range(load.requests):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(next_path(), due)))
        await asyncio.gather(*tasks)
    finally:
        gc.unfreeze()  # the caller's heap is collectable again (a test process runs on)
    load.wall = time.perf_counter() - t0
    return load
