"""The hand-off from presence (synchronous, 10,000 adverts/s on the receive loop) to the
outbox (asynchronous, a SQLite commit per event).

Two lanes: decisions (visits, cloned tags, low batteries) are never dropped — they are rare
(one per presence at most), so the lane is unbounded and its high-water mark is reported;
sampled ``patrol.tag_seen`` goes to a bounded lane whose overflow is dropped and counted, so a
stalled disk can never grow memory without bound. The drainer takes decisions first.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Generic, TypeVar

T = TypeVar("T")

SAMPLED_CAP = 5_000


class Handoff(Generic[T]):
    def __init__(self, sampled_cap: int = SAMPLED_CAP) -> None:
        self._decisions: deque[T] = deque()
        self._sampled: deque[T] = deque()
        self.sampled_cap = sampled_cap
        self.dropped = 0
        self.high_water = 0
        self._ready = asyncio.Event()

    def put(self, item: T, *, sampled: bool = False) -> None:
        """Never blocks, never raises (called from ``feed``)."""
        if sampled:
            if len(self._sampled) >= self.sampled_cap:
                self.dropped += 1
                return
            self._sampled.append(item)
        else:
            self._decisions.append(item)
            self.high_water = max(self.high_water, len(self._decisions))
        self._ready.set()

    async def get(self) -> T:
        """The next item, decisions first; waits while both lanes are empty."""
        while True:
            if self._decisions:
                return self._decisions.popleft()
            if self._sampled:
                return self._sampled.popleft()
            self._ready.clear()
            await self._ready.wait()

    def __len__(self) -> int:
        return len(self._decisions) + len(self._sampled)

    def status(self) -> dict[str, Any]:
        return {"queued": len(self), "dropped_tag_seen": self.dropped,
                "high_water": self.high_water}
