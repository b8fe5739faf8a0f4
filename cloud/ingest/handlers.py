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
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from contract import Kind

if TYPE_CHECKING:
    from cloud.alarms.policy import AlarmPolicy
    from cloud.rules.evaluate import RuleEngine


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


class HandlerRegistry:
    """Kind → handlers. Several handlers may listen to one kind; they run in register order."""

    def __init__(self) -> None:
        self._by_kind: dict[str, list[Handler]] = defaultdict(list)
        self._by_prefix: list[tuple[str, Handler]] = []
        self._resolved: dict[str, list[Handler]] = {}

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


def default_registry(alarm_policy: AlarmPolicy | None = None,
                     rules: RuleEngine | None = None) -> HandlerRegistry:
    """A registry with the built-in handlers; features register more on the returned object.

    ``alarm_policy`` says which events open alarms (default: ``cloud.alarms.DEFAULT_POLICY``);
    ``rules`` which open work orders (none without it).
    """
    from cloud.ingest.alarm_handlers import register_alarm_handlers
    from cloud.ingest.device_handlers import on_buffer_dropped, on_device_status
    from cloud.ingest.meter_handlers import on_meter_reading
    from cloud.ingest.parking_handlers import on_parking_entry, on_parking_exit

    reg = HandlerRegistry()
    reg.register(Kind.METER_READING, on_meter_reading)
    reg.register(Kind.DEVICE_ONLINE, on_device_status)
    reg.register(Kind.DEVICE_OFFLINE, on_device_status)
    reg.register(Kind.BUFFER_DROPPED, on_buffer_dropped)
    reg.register(Kind.PARKING_ENTRY, on_parking_entry)
    reg.register(Kind.PARKING_EXIT, on_parking_exit)
    register_alarm_handlers(reg, alarm_policy)
    if rules is not None:
        from cloud.ingest.workorder_handlers import register_workorder_handlers

        register_workorder_handlers(reg, rules)
    return reg
