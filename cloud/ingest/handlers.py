"""Domain handlers run for newly inserted events only, inside the batch's transaction.

A registry keyed by event kind, so each feature (parking, alarms, rules…) adds its handlers
in its ``setup`` without touching the ingest path (``cloud.features`` wires them). A handler
gets every new event of its kind in the batch at once, in seq order, so it can write in bulk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from contract.health import Health


class StoredEvent(NamedTuple):
    """An event as stored: the envelope plus its row id and resolved device id (a tuple:
    thousands are made per transaction)."""

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
#: Keeps an edge's ``up/health`` report (session, site id, report, console time), in the
#: ingest's transaction; ``cloud.sites`` sets it (``cloud.sites.edge_health``).
HealthSink = Callable[[AsyncSession, int, Health, datetime], Awaitable[None]]


class HandlerRegistry:
    """Kind → handlers. Several handlers may listen to one kind; they run in register order."""

    def __init__(self) -> None:
        self._by_kind: dict[str, list[Handler]] = defaultdict(list)
        self._by_prefix: list[tuple[str, Handler]] = []
        self._resolved: dict[str, list[Handler]] = {}
        #: None: reports are checked and counted, not kept (a registry without ``sites``).
        self.health_sink: HealthSink | None = None

    def register(self, kind: str, handler: Handler) -> None:
        self._by_kind[kind].append(handler)
        self._resolved.clear()

    def register_prefix(self, prefix: str, handler: Handler) -> None:
        """Every kind starting with ``prefix`` (a rule on ``fire.*``), after the exact ones."""
        self._by_prefix.append((prefix, handler))
        self._resolved.clear()

    def handlers_for(self, kind: str) -> list[Handler]:
        found = self._resolved.get(kind)
        if found is None:  # once per kind: the hot path (meter readings) stays a dict lookup
            found = list(self._by_kind.get(kind, ()))
            found += [h for prefix, h in self._by_prefix
                      if kind.startswith(prefix) and h not in found]
            self._resolved[kind] = found
        return found

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
            if self.handlers_for(ev.kind):
                grouped[ev.kind].append(ev)
        for kind, evs in grouped.items():
            for handler in self.handlers_for(kind):
                await handler(ctx, evs)
