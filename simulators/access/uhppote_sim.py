"""Simulated 微耕/UHPPOTE network door controllers over real UDP.

Each ``SimController`` binds its own ``host:port`` (``127.0.0.x:60000`` style in tests) and
answers the requests the edge sends: get-controller, get/set time, get-status, get/set
listener, get/set door control, open door, put/delete/clear/get cards (by number and by
index), get-event, get/set event index and record-special-events. Everything it records it
also pushes to the listener, as the real boards do.

Test hooks stand in for people and hardware: ``swipe``, ``open_door`` / ``close_door`` (the
door sensor), ``press_button``; ``pushes`` off loses pushed events (catch-up by index must
find them) and ``answering`` off makes the controller silent (offline).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import structlog

from simulators.access import uhppote_wire as w
from simulators.access.uhppote_state import Card, ControllerState, Event, TimeProfile

log = structlog.get_logger("simulators.uhppote")

Handler = Callable[[ControllerState, bytes, bytearray], None]


@dataclass
class Counters:
    requests: int = 0
    malformed: int = 0
    pushed: int = 0
    by_function: dict[int, int] = field(default_factory=dict)


class SimController(asyncio.DatagramProtocol):
    """One controller on one UDP address; ``start`` binds, ``stop`` closes."""

    def __init__(self, serial: int, host: str = "127.0.0.1", port: int = 60000, *,
                 doors: int = 4, held_open_after: float = 10.0,
                 capacity: int = 200_000) -> None:
        self.state = ControllerState(serial, doors_count=doors, capacity=capacity)
        self.host, self.port = host, port
        self.held_open_after = held_open_after
        self.pushes = True
        self.answering = True
        self.counters = Counters()
        self._transport: asyncio.DatagramTransport | None = None
        self._watch: asyncio.Task[None] | None = None
        self._relock: dict[int, asyncio.TimerHandle] = {}

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> SimController:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self,
                                                           local_addr=(self.host, self.port))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        self._watch = asyncio.create_task(self._watch_held_open())
        return self

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for handle in self._relock.values():
            handle.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # -- UDP ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.answering:
            return
        try:
            function, serial = w.request_header(data)
        except w.WireError as exc:
            self.counters.malformed += 1
            log.info("报文无效 / malformed request", serial=self.state.serial, error=str(exc))
            return
        if serial not in (self.state.serial, 0) or (serial == 0 and function != w.GET_CONTROLLER):
            return
        handler = HANDLERS.get(function)
        if handler is None:
            self.counters.malformed += 1
            return
        self.counters.requests += 1
        self.counters.by_function[function] = self.counters.by_function.get(function, 0) + 1
        out = w.reply(function, self.state.serial)
        if function == w.OPEN_DOOR:
            out[8] = self._remote_open(data[8])
        else:
            handler(self.state, data, out)
            if function == w.SET_DOOR:
                self._apply_mode(data[8])
        if self._transport is not None:
            self._transport.sendto(bytes(out), addr)

    # -- hooks: people and hardware -------------------------------------------------------
    def swipe(self, card: int, door: int, direction: int = w.DIRECTION_IN) -> Event:
        """A card presented at a door's reader: decide, record, push, unlock if granted."""
        granted, reason = self.state.decide(card, door)
        event = self.state.record(w.TYPE_SWIPE, reason, door, card=card, granted=granted,
                                  direction=direction)
        self._push(event)
        if granted:
            self._unlock(door)
        return event

    def open_door(self, door: int) -> list[Event]:
        """The door sensor reports the door open (forced if the lock was not released)."""
        events = self.state.door_opened(door)
        for e in events:
            self._push(e)
        return events

    def close_door(self, door: int) -> list[Event]:
        events = self.state.door_closed(door)
        for e in events:
            self._push(e)
        return events

    def press_button(self, door: int) -> Event | None:
        """The exit button: releases the lock; recorded when special events are on."""
        self._unlock(door)
        if not self.state.special_events:
            return None
        event = self.state.record(w.TYPE_DOOR, w.REASON_BUTTON, door, granted=True)
        self._push(event)
        return event

    # -- internals ------------------------------------------------------------------------
    def _remote_open(self, door: int) -> int:
        if door not in self.state.doors:
            return 0
        self._unlock(door)
        self._push(self.state.record(w.TYPE_DOOR, w.REASON_REMOTE_OPEN, door, granted=True))
        return 1

    def _unlock(self, door: int) -> None:
        d = self.state.doors[door]
        d.unlocked = True
        if (old := self._relock.pop(door, None)) is not None:
            old.cancel()
        self._relock[door] = asyncio.get_running_loop().call_later(
            max(d.delay, 0.05), self._lock, door)

    def _lock(self, door: int) -> None:
        self._relock.pop(door, None)
        self.state.doors[door].unlocked = False

    def _apply_mode(self, door: int) -> None:
        d = self.state.doors.get(door)
        if d is not None and d.mode != w.CONTROLLED:
            d.unlocked = False
            if (old := self._relock.pop(door, None)) is not None:
                old.cancel()

    def _push(self, event: Event) -> None:
        host, port = self.state.listener
        if not self.pushes or port == 0 or self._transport is None:
            return
        packet = w.reply(w.EVENT, self.state.serial)
        status_block(self.state, packet, event)
        self._transport.sendto(bytes(packet), (host, port))
        self.counters.pushed += 1

    async def _watch_held_open(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            for door in self.state.doors:
                if (event := self.state.held_open(door, self.held_open_after)) is not None:
                    self._push(event)


def status_block(s: ControllerState, out: bytearray, event: Event | None) -> None:
    """The status layout: the given (or latest) event, doors, buttons, relays, clock."""
    if event is None and s.events:
        event = s.events[-1]
    if event is not None:
        w.put_u32(out, w.STATUS_EVENT_INDEX, event.index)
        out[w.STATUS_EVENT_TYPE] = event.type
        out[w.STATUS_GRANTED] = int(event.granted)
        out[w.STATUS_DOOR] = event.door
        out[w.STATUS_DIRECTION] = event.direction
        w.put_u32(out, w.STATUS_CARD, event.card)
        w.put_datetime(out, w.STATUS_TIMESTAMP, event.timestamp)
        out[w.STATUS_REASON] = event.reason
    for n, d in s.doors.items():
        out[w.STATUS_DOOR_OPEN + n - 1] = int(d.open)
        out[w.STATUS_BUTTON + n - 1] = int(d.button)
    now = s.now()
    w.put_time(out, w.STATUS_TIME, now.time())
    s.sequence += 1
    w.put_u32(out, w.STATUS_SEQUENCE, s.sequence)
    out[w.STATUS_RELAYS] = s.relays()
    w.put_short_date(out, w.STATUS_DATE, now.date())


def _card_block(out: bytearray, card: Card) -> None:
    w.put_u32(out, 8, card.number)
    w.put_date(out, 12, card.start)
    w.put_date(out, 16, card.end)
    out[20:24] = bytes(card.doors)
    w.put_u24(out, 24, card.pin)
    out[27] = card.first_card


def _get_controller(s: ControllerState, req: bytes, out: bytearray) -> None:
    w.put_ipv4(out, 8, "127.0.0.1")
    w.put_ipv4(out, 12, "255.255.255.0")
    w.put_ipv4(out, 16, "0.0.0.0")
    out[20:26] = bytes((0x00, 0x12, 0x23, 0x34, 0x45, 0x56))
    out[26:28] = bytes((0x08, 0x92))  # firmware v8.92
    w.put_date(out, 28, dt.date(2019, 8, 15))


def _set_time(s: ControllerState, req: bytes, out: bytearray) -> None:
    if (value := w.get_datetime(req, 8)) is not None:
        s.set_time(value)
    w.put_datetime(out, 8, s.now())


def _get_time(s: ControllerState, req: bytes, out: bytearray) -> None:
    w.put_datetime(out, 8, s.now())


def _get_status(s: ControllerState, req: bytes, out: bytearray) -> None:
    status_block(s, out, None)


def _set_listener(s: ControllerState, req: bytes, out: bytearray) -> None:
    s.listener = (w.get_ipv4(req, 8), w.u16(req, 12))
    s.listener_interval = req[14]
    out[8] = 1


def _get_listener(s: ControllerState, req: bytes, out: bytearray) -> None:
    w.put_ipv4(out, 8, s.listener[0])
    w.put_u16(out, 12, s.listener[1])
    out[14] = s.listener_interval


def _get_door(s: ControllerState, req: bytes, out: bytearray) -> None:
    out[8] = req[8]
    if (d := s.doors.get(req[8])) is not None:
        out[9], out[10] = d.mode, d.delay


def _set_door(s: ControllerState, req: bytes, out: bytearray) -> None:
    out[8] = req[8]
    d = s.doors.get(req[8])
    if d is not None and req[9] in (w.NORMALLY_OPEN, w.NORMALLY_CLOSED, w.CONTROLLED):
        d.mode, d.delay = req[9], req[10]
        out[9], out[10] = d.mode, d.delay


def _put_card(s: ControllerState, req: bytes, out: bytearray) -> None:
    start, end = w.get_date(req, 12), w.get_date(req, 16)
    number = w.u32(req, 8)
    if start is None or end is None or number in (0, w.DELETED_CARD):
        return
    doors = (req[20], req[21], req[22], req[23])
    s.put_card(Card(number, start, end, doors, w.u24(req, 24), req[27]))
    out[8] = 1


def _delete_card(s: ControllerState, req: bytes, out: bytearray) -> None:
    out[8] = int(s.delete_card(w.u32(req, 8)))


def _delete_all(s: ControllerState, req: bytes, out: bytearray) -> None:
    if w.u32(req, 8) == w.MAGIC:
        s.delete_all_cards()
        out[8] = 1


def _get_cards(s: ControllerState, req: bytes, out: bytearray) -> None:
    w.put_u32(out, 8, len(s.slots))


def _get_card(s: ControllerState, req: bytes, out: bytearray) -> None:
    if (card := s.cards.get(w.u32(req, 8))) is not None:
        _card_block(out, card)


def _get_card_at(s: ControllerState, req: bytes, out: bytearray) -> None:
    found = s.card_at(w.u32(req, 8))
    if isinstance(found, Card):
        _card_block(out, found)
    elif found is not None:
        w.put_u32(out, 8, found)


_SEGMENTS = (24, 28, 32)


def _set_profile(s: ControllerState, req: bytes, out: bytearray) -> None:
    pid, start, end = req[8], w.get_date(req, 9), w.get_date(req, 13)
    segments = [(w.get_hhmm(req, o), w.get_hhmm(req, o + 2)) for o in _SEGMENTS]
    if not 2 <= pid <= 254 or start is None or end is None:
        return
    clean = tuple((a, b) for a, b in segments if a is not None and b is not None)
    s.profiles[pid] = TimeProfile(pid, start, end, tuple(req[17 + i] != 0 for i in range(7)),
                                  clean, req[36])
    out[8] = 1


def _get_profile(s: ControllerState, req: bytes, out: bytearray) -> None:
    p = s.profiles.get(req[8])
    if p is None:
        return
    out[8] = p.id
    w.put_date(out, 9, p.start)
    w.put_date(out, 13, p.end)
    out[17:24] = bytes(int(d) for d in p.weekdays)
    for offset, (a, b) in zip(_SEGMENTS, p.segments, strict=False):
        w.put_hhmm(out, offset, a)
        w.put_hhmm(out, offset + 2, b)
    out[36] = p.linked


def _clear_profiles(s: ControllerState, req: bytes, out: bytearray) -> None:
    if w.u32(req, 8) == w.MAGIC:
        s.profiles.clear()
        out[8] = 1


def _get_event(s: ControllerState, req: bytes, out: bytearray) -> None:
    index = w.u32(req, 8)
    w.put_u32(out, 8, index)
    found = s.event(index)
    if isinstance(found, int):
        out[12] = found
        return
    if found is None:
        return
    out[12], out[13], out[14], out[15] = found.type, int(found.granted), found.door, \
        found.direction
    w.put_u32(out, 16, found.card)
    w.put_datetime(out, 20, found.timestamp)
    out[27] = found.reason


def _get_event_index(s: ControllerState, req: bytes, out: bytearray) -> None:
    w.put_u32(out, 8, s.downloaded_index)


def _set_event_index(s: ControllerState, req: bytes, out: bytearray) -> None:
    if w.u32(req, 12) == w.MAGIC:
        s.downloaded_index = w.u32(req, 8)
        out[8] = 1


def _record_special(s: ControllerState, req: bytes, out: bytearray) -> None:
    s.special_events = req[8] != 0
    out[8] = 1


def _open_door(s: ControllerState, req: bytes, out: bytearray) -> None:
    """Handled by the controller itself (it needs the relay timers)."""


HANDLERS: dict[int, Handler] = {
    w.GET_CONTROLLER: _get_controller, w.SET_TIME: _set_time, w.GET_TIME: _get_time,
    w.GET_STATUS: _get_status, w.SET_LISTENER: _set_listener, w.GET_LISTENER: _get_listener,
    w.GET_DOOR: _get_door, w.SET_DOOR: _set_door, w.OPEN_DOOR: _open_door,
    w.PUT_CARD: _put_card, w.DELETE_CARD: _delete_card, w.DELETE_ALL_CARDS: _delete_all,
    w.GET_CARDS: _get_cards, w.GET_CARD: _get_card, w.GET_CARD_AT_INDEX: _get_card_at,
    w.GET_EVENT: _get_event, w.GET_EVENT_INDEX: _get_event_index,
    w.SET_EVENT_INDEX: _set_event_index, w.RECORD_SPECIAL_EVENTS: _record_special,
    w.SET_TIME_PROFILE: _set_profile, w.GET_TIME_PROFILE: _get_profile,
    w.CLEAR_TIME_PROFILES: _clear_profiles,
}
