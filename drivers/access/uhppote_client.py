"""Requests to 微耕/UHPPOTE controllers through uhppoted's async API, each with a deadline.

Every request names the controller's own address (``(serial, "host:port", "udp")``): with a
bare serial number uhppoted would broadcast. A request that times out, fails on the socket or
comes back unreadable (or from another serial number) raises ``ControllerError``; the caller
decides whether the controller is offline.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import struct
from typing import Any

import structlog
from uhppoted.uhppote_async import UhppoteAsync

from drivers.access.uhppote_events import Record
from drivers.access.uhppote_model import (
    AccessConfig,
    CardSpec,
    ControllerError,
    ControllerSpec,
    TimeProfileSpec,
)
from drivers.base import DriverStats

DELETED = 0xFFFFFFFF
#: Extra time over uhppoted's own timeout before we give up on a call ourselves.
GRACE_S = 0.5
_ERRORS = (TimeoutError, OSError, ValueError, struct.error, RuntimeError)


class UhppoteClient:
    def __init__(self, config: AccessConfig, stats: DriverStats,
                 log: Any = None, api: UhppoteAsync | None = None) -> None:
        self.config = config
        self.stats = stats
        self._log = log or structlog.get_logger("drivers.uhppote")
        self._api = api or UhppoteAsync(bind=config.bind, broadcast=config.broadcast,
                                        listen=config.listen)

    async def call(self, c: ControllerSpec, op: str, *args: Any) -> Any:
        """One request; ``ControllerError`` on no reply, a bad reply or another serial."""
        timeout = self.config.timeout
        self.stats.inc("uhppote_requests")
        try:
            # not wait_for: on 3.11 it can swallow a cancel that meets the reply
            async with asyncio.timeout(timeout + GRACE_S):
                reply = await getattr(self._api, op)((c.serial, c.address, "udp"), *args,
                                                     timeout=timeout)
        except _ERRORS as exc:
            self.stats.inc("uhppote_request_errors")
            raise ControllerError(f"{op}: {exc or type(exc).__name__}") from exc
        if reply is None:
            self.stats.inc("uhppote_request_errors")
            raise ControllerError(f"{op}: no reply")
        serial = getattr(reply, "controller", c.serial)
        if serial != c.serial:
            self.stats.inc("uhppote_wrong_serial")
            raise ControllerError(f"{op}: reply from controller {serial}, not {c.serial}")
        return reply

    # -- set-up ---------------------------------------------------------------------------
    async def discover(self, c: ControllerSpec) -> dict[str, Any]:
        r = await self.call(c, "get_controller")
        return {"serial": r.controller, "version": r.version, "mac": r.mac_address,
                "date": r.date.isoformat() if r.date else None}

    async def discover_all(self, within: float = 2.0) -> list[dict[str, Any]]:
        """Every controller answering a get-controller broadcast to ``config.broadcast``
        (for installers finding serial numbers; running never broadcasts)."""
        self.stats.inc("uhppote_requests")
        try:
            replies = await self._api.get_all_controllers(timeout=within)
        except _ERRORS as exc:
            raise ControllerError(f"get_all_controllers: {exc or type(exc).__name__}") from exc
        return [{"serial": r.controller, "address": str(r.ip_address), "version": r.version,
                 "mac": r.mac_address} for r in replies]

    async def set_time(self, c: ControllerSpec, local: dt.datetime) -> dt.datetime | None:
        return (await self.call(c, "set_time", local)).datetime  # type: ignore[no-any-return]

    async def set_listener(self, c: ControllerSpec, host: str, port: int) -> None:
        r = await self.call(c, "set_listener", ipaddress.IPv4Address(host), port)
        if not r.ok:
            raise ControllerError("set_listener: refused")

    async def record_special_events(self, c: ControllerSpec) -> None:
        await self.call(c, "record_special_events", True)

    async def status(self, c: ControllerSpec) -> Any:
        return await self.call(c, "get_status")

    # -- doors ----------------------------------------------------------------------------
    async def open_door(self, c: ControllerSpec, door: int) -> bool:
        return bool((await self.call(c, "open_door", door)).opened)

    async def door_control(self, c: ControllerSpec, door: int) -> tuple[int, int]:
        r = await self.call(c, "get_door_control", door)
        return r.mode, r.delay

    async def set_door_control(self, c: ControllerSpec, door: int, mode: int,
                               delay: int) -> tuple[int, int]:
        r = await self.call(c, "set_door_control", door, mode, delay)
        return r.mode, r.delay

    # -- cards ----------------------------------------------------------------------------
    async def put_card(self, c: ControllerSpec, card: CardSpec) -> bool:
        r = await self.call(c, "put_card", card.number, card.start, card.end,
                            card.permission(1), card.permission(2), card.permission(3),
                            card.permission(4), card.pin)
        return bool(r.stored)

    async def delete_card(self, c: ControllerSpec, number: int) -> bool:
        return bool((await self.call(c, "delete_card", number)).deleted)

    async def clear_cards(self, c: ControllerSpec) -> bool:
        return bool((await self.call(c, "delete_all_cards")).deleted)

    async def card_count(self, c: ControllerSpec) -> int:
        return int((await self.call(c, "get_cards")).cards)

    async def get_card(self, c: ControllerSpec, number: int) -> CardSpec | None:
        r = await self.call(c, "get_card", number)
        return _card(r)

    async def card_at(self, c: ControllerSpec, index: int) -> CardSpec | int | None:
        """The card in slot ``index``; ``DELETED`` for a deleted slot; None past the end."""
        r = await self.call(c, "get_card_by_index", index)
        if r.card_number == DELETED:
            return DELETED
        return _card(r)

    # -- time profiles --------------------------------------------------------------------
    async def set_time_profile(self, c: ControllerSpec, p: TimeProfileSpec) -> None:
        days = [d in p.weekdays for d in range(7)]
        seg: list[dt.time | None] = [t for pair in p.segments for t in pair]
        seg += [None] * (6 - len(seg))
        r = await self.call(c, "set_time_profile", p.id, p.start, p.end, *days, *seg, p.linked)
        if not r.stored:
            raise ControllerError(f"set_time_profile {p.id}: refused")

    async def get_time_profile(self, c: ControllerSpec, pid: int) -> TimeProfileSpec | None:
        r = await self.call(c, "get_time_profile", pid)
        if r.profile_id == 0 or r.start_date is None or r.end_date is None:
            return None
        days = (r.monday, r.tuesday, r.wednesday, r.thursday, r.friday, r.saturday, r.sunday)
        pairs = ((r.segment_1_start, r.segment_1_end), (r.segment_2_start, r.segment_2_end),
                 (r.segment_3_start, r.segment_3_end))
        zero = dt.time(0, 0)
        return TimeProfileSpec(r.profile_id, r.start_date, r.end_date,
                               frozenset(i for i, on in enumerate(days) if on),
                               tuple((a, b) for a, b in pairs
                                     if a is not None and b is not None and (a, b) != (zero, zero)),
                               r.linked_profile_id)

    async def clear_time_profiles(self, c: ControllerSpec) -> bool:
        return bool((await self.call(c, "delete_all_time_profiles")).deleted)

    # -- events ---------------------------------------------------------------------------
    async def event(self, c: ControllerSpec, index: int) -> Record:
        r = await self.call(c, "get_event", index)
        return Record(c.serial, index, r.event_type, bool(r.access_granted), r.door,
                      r.direction, r.card, r.timestamp, r.reason)


def _card(r: Any) -> CardSpec | None:
    if r.card_number == 0 or r.start_date is None or r.end_date is None:
        return None
    doors = {n: p for n, p in ((1, r.door_1), (2, r.door_2), (3, r.door_3), (4, r.door_4)) if p}
    return CardSpec(r.card_number, r.start_date, r.end_date, doors, r.pin)
