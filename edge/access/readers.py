"""The edge's own readers: each card or PIN decided locally, answered at the door, recorded.

``ReaderDoors.on_input`` is what an ``OsdpBus`` calls for every read. It decides
(``Decider``), answers the reader at once (grant: door output, green, one beep; deny: red and
three beeps) and only then records ``access.granted`` / ``access.denied`` (plus the silent
``access.duress``): the person at the door waits on the relay, not on the outbox, and the
decision does not depend on the record (it is made from the dataset alone, cloud or not). A
reader that does not take the command leaves the door shut; the event says so.

``relay_ms`` in each event is card read at the control panel → relay command taken by the
line, the figure the issue's 50 ms p99 target is about (also kept in ``stats``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Protocol

import structlog

from contract import Clock, Kind, NewEvent
from drivers.access.osdp_model import ReaderInput
from drivers.base import DriverStats, Emit
from edge.access.decide import Decider, Decision

log = structlog.get_logger(__name__)
EVENT_VERSION = 1
DURESS_MESSAGE = "胁迫码开门（静默报警）/ duress code used: silent alarm"


class ReaderLine(Protocol):
    """What the doors need of a reader line (``drivers.access.osdp.OsdpBus``)."""

    async def grant(self, reader: str, pulse_s: float | None = None) -> float: ...

    async def deny(self, reader: str) -> None: ...


class ReaderDoors:
    """Decide, answer and record for every read on the attached line."""

    def __init__(self, decider: Decider, emit: Emit, clock: Clock,
                 stats: DriverStats | None = None) -> None:
        self.decider = decider
        self._emit = emit
        self._clock = clock
        self.stats = stats or DriverStats()
        self._default: ReaderLine | None = None
        self._lines: dict[str, ReaderLine] = {}

    def attach(self, line: ReaderLine, readers: Iterable[str] | None = None) -> None:
        """Answer ``readers`` on ``line`` (a site has one line per RS-485 bus); without
        ``readers`` the line answers every reader no other line claims."""
        if readers is None:
            self._default = line
        else:
            self._lines.update(dict.fromkeys(readers, line))

    async def on_input(self, read: ReaderInput) -> Decision:
        now = self._clock.now()
        decision = self.decider.decide(read, now)
        decided_at = time.monotonic()
        answered, relay_at = await self._answer(read.reader, decision)
        data: dict[str, Any] = {
            "v": EVENT_VERSION, "reader": decision.reader, "method": decision.method,
            "credential": decision.credential, "holder": decision.holder,
            "decide_ms": round((decided_at - read.at) * 1000, 3),
            "message": decision.message(),
        }
        if decision.area is not None:
            data["area"], data["direction"] = decision.area, decision.direction
        point = self.decider.point(read.reader)
        if decision.door is not None:
            data["door"] = decision.door
        if point is not None and point.building is not None:
            data["building"] = point.building
        if decision.card_format is not None:
            data["card_format"] = decision.card_format
        if relay_at is not None:
            relay_ms = (relay_at - read.at) * 1000
            data["relay_ms"] = round(relay_ms, 3)
            self.stats.observe_latency(relay_ms / 1000)
        if not answered:
            data["feedback"] = "failed"
        if decision.apb_violation:
            data["apb_violation"] = True
        if decision.pass_id is not None:
            data["pass_id"] = decision.pass_id
        # The door is the device people look for (as with door controllers).
        device = decision.door or decision.reader
        if decision.granted:
            self.stats.inc("access_granted")
            await self._emit(NewEvent(device, Kind.ACCESS_GRANTED, data, now))
        else:
            self.stats.inc("access_denied")
            await self._emit(NewEvent(device, Kind.ACCESS_DENIED,
                                      {**data, "reason": decision.reason}, now))
        if decision.duress:
            self.stats.inc("access_duress")
            log.warning("胁迫码 / duress PIN", reader=decision.reader, door=decision.door)
            await self._emit(NewEvent(device, Kind.ACCESS_DURESS,
                                      {**data, "granted": decision.granted,
                                       "message": DURESS_MESSAGE}, now))
        return decision

    async def _answer(self, reader: str, decision: Decision) -> tuple[bool, float | None]:
        line = self._lines.get(reader, self._default)
        if line is None:
            return False, None
        point = self.decider.point(reader)
        try:
            if decision.granted:
                pulse = point.relay_pulse_s if point is not None else None
                return True, await line.grant(reader, pulse)
            await line.deny(reader)
            return True, None
        except Exception as exc:  # the door stays shut; the record says why
            self.stats.inc("access_feedback_failures")
            log.warning("读卡器未执行 / reader did not act", reader=reader, error=str(exc))
            return False, None
