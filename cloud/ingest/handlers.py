"""Domain handlers run for newly inserted events only, inside the batch's transaction.

A registry keyed by event kind, so each feature (billing, parking, alarms…) adds its handler
without touching the ingest path. A handler gets every new event of its kind in the batch at
once, in seq order, so it can write in bulk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contract import Kind


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: the envelope plus its row id and resolved device id."""

    id: int
    seq: int
    ts: datetime
    kind: str
    device: str
    device_id: int
    data: dict[str, Any]
    priority: int


@dataclass
class HandlerContext:
    """What a handler may use: the batch's session (never commit it), site and clock time."""

    session: AsyncSession
    site_id: int
    site: str
    now: datetime
    log: Any
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n


Handler = Callable[[HandlerContext, Sequence[StoredEvent]], Awaitable[None]]


class HandlerRegistry:
    """Kind → handlers. Several handlers may listen to one kind; they run in register order."""

    def __init__(self) -> None:
        self._by_kind: dict[str, list[Handler]] = defaultdict(list)

    def register(self, kind: str, handler: Handler) -> None:
        self._by_kind[kind].append(handler)

    def on(self, kind: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.register(kind, fn)
            return fn
        return deco

    def kinds(self) -> set[str]:
        return {k for k, v in self._by_kind.items() if v}

    async def dispatch(self, ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
        grouped: dict[str, list[StoredEvent]] = defaultdict(list)
        for ev in events:
            if ev.kind in self._by_kind:
                grouped[ev.kind].append(ev)
        for kind, evs in grouped.items():
            for handler in self._by_kind[kind]:
                await handler(ctx, evs)


def default_registry() -> HandlerRegistry:
    """A registry with the built-in handlers; features register more on the returned object."""
    from cloud.ingest.device_handlers import on_buffer_dropped, on_device_status
    from cloud.ingest.meter_handlers import on_meter_reading

    reg = HandlerRegistry()
    reg.register(Kind.METER_READING, on_meter_reading)
    reg.register(Kind.DEVICE_ONLINE, on_device_status)
    reg.register(Kind.DEVICE_OFFLINE, on_device_status)
    reg.register(Kind.BUFFER_DROPPED, on_buffer_dropped)
    return reg
