"""The edge's driver for 微耕/UHPPOTE network door controllers (UT0311-L0x family).

``run()`` binds the event listener, then keeps one worker per controller. At start (and again
after the controller was offline) the worker checks the controller is the one configured
(get-controller), sets its clock to site time, points its event listener at the edge and turns
on door/button records. Then it takes each pushed event, and every ``poll_interval`` it reads
the status: the status names the controller's latest event index, so anything after the saved
cursor that no push brought (lost datagram, the edge was down) is read back by index.

Nothing missed, nothing twice: one worker per controller handles pushes and catch-up in order;
an event is stored (``emit`` returns once durable) before its index is saved; a push at or
below the cursor is a repeat and dropped; a push past cursor+1 first reads the gap by index.
A controller seen for the first time starts at its latest index (its history is not
imported); one whose latest index is below the cursor had its log reset and is read from 1.
``offline_after`` failed requests in a row emit ``controller.offline`` once; the first good
answer after that emits ``controller.online`` (the console marks the offline alarm restored)
and re-runs the start-up.

A datagram not from a configured controller's own address is dropped and counted
(``uhppote_wrong_peer``); a malformed one is logged and counted (``uhppote_malformed``), never
raised. Door commands (``open_door``, ``set_door_mode``) and card commands raise
``ControllerError`` with the reason when the controller does not carry them out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import structlog
from uhppoted import decode

from contract import Clock, Kind, NewEvent
from drivers.access.cursors import Cursors
from drivers.access.sync import SyncReport, sync_cards
from drivers.access.uhppote_client import UhppoteClient
from drivers.access.uhppote_events import TYPE_NONE, TYPE_OVERWRITTEN, Record, to_event
from drivers.access.uhppote_model import (
    MODE_NAMES,
    MODES,
    AccessConfig,
    CardSpec,
    ControllerError,
    ControllerSpec,
    DoorSpec,
)
from drivers.base import DriverStats, Emit, stop_if_cancelled

OFFLINE_MESSAGE = "门禁控制器离线 / door controller offline"
ONLINE_MESSAGE = "门禁控制器恢复在线 / door controller back online"


def split_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, on_packet: Any) -> None:
        self._on_packet = on_packet

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._on_packet(data, addr)


class UhppoteDriver:
    def __init__(self, config: AccessConfig, emit: Emit, clock: Clock, tz: dt.tzinfo,
                 cursors: Cursors, *, stats: DriverStats | None = None, log: Any = None,
                 client: UhppoteClient | None = None) -> None:
        self.config = config
        self.stats = stats or DriverStats()
        self._log = log or structlog.get_logger("drivers.uhppote")
        self.client = client or UhppoteClient(config, self.stats, self._log)
        self._emit = emit
        self._clock = clock
        self._tz = tz
        self.cursors = cursors
        self._queues: dict[int, asyncio.Queue[Record]] = {
            c.serial: asyncio.Queue() for c in config.controllers}
        self._by_serial = {c.serial: c for c in config.controllers}
        self._doors = {(d.controller, d.door): d for d in config.doors}
        self.online: dict[str, bool | None] = {c.id: None for c in config.controllers}
        self.ready: dict[str, asyncio.Event] = {c.id: asyncio.Event() for c in config.controllers}
        self._started: dict[str, bool] = {c.id: False for c in config.controllers}
        self._fails: dict[str, int] = {c.id: 0 for c in config.controllers}
        self.listen_address: tuple[str, int] | None = None

    # -- running --------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Listener(self._on_packet), local_addr=split_address(self.config.listen))
        self.listen_address = transport.get_extra_info("sockname")[:2]
        try:
            async with asyncio.TaskGroup() as tg:
                for c in self.config.controllers:
                    tg.create_task(self._worker(c), name=f"uhppote:{c.id}")
        finally:
            transport.close()

    async def _worker(self, c: ControllerSpec) -> None:
        log = self._log.bind(controller=c.id, serial=c.serial)
        queue = self._queues[c.serial]
        while True:
            try:
                if not self._started[c.id]:
                    await self._start(c, log)
                rec: Record | None = None
                with suppress(TimeoutError):  # not wait_for: it can swallow a cancel (3.11)
                    async with asyncio.timeout(self.config.poll_interval):
                        rec = await queue.get()
                if rec is None:
                    status = await self.client.status(c)
                    await self._good(c, log)
                    await self._catch_up(c, status.event_index, log)
                else:
                    await self._good(c, log)
                    await self._take(c, rec, log)
            except ControllerError as exc:
                await self._bad(c, exc, log)
                await asyncio.sleep(min(self.config.poll_interval, 1.0))
            stop_if_cancelled()  # uhppoted's wait_for may have swallowed a cancel

    async def _start(self, c: ControllerSpec, log: Any) -> None:
        info = await self.client.discover(c)
        local = self._clock.now().astimezone(self._tz).replace(tzinfo=None, microsecond=0)
        await self.client.set_time(c, local)
        host, port = self._announce()
        await self.client.set_listener(c, host, port)
        await self.client.record_special_events(c)
        status = await self.client.status(c)
        if self.cursors.get(c.serial) is None:
            self.cursors.put(c.serial, status.event_index)
            log.info("首次接入，从最新事件开始 / first contact: reading from the latest event",
                     index=status.event_index)
        self._started[c.id] = True
        await self._good(c, log)
        log.info("门禁控制器已就绪 / controller ready", listener=f"{host}:{port}", **info)
        await self._catch_up(c, status.event_index, log)
        self.ready[c.id].set()

    def _announce(self) -> tuple[str, int]:
        assert self.listen_address is not None
        host, port = self.listen_address
        if self.config.announce:
            ahost, aport = split_address(self.config.announce)
            return ahost, aport or port
        return host, port

    async def _good(self, c: ControllerSpec, log: Any) -> None:
        self._fails[c.id] = 0
        if self.online[c.id] is False:
            self.stats.inc("devices_came_online")
            log.info("门禁控制器恢复在线 / controller back online")
            await self._emit(self._controller_event(c, Kind.CONTROLLER_ONLINE, {
                "controller": c.serial, "message": ONLINE_MESSAGE}))
        self.online[c.id] = True

    async def _bad(self, c: ControllerSpec, exc: ControllerError, log: Any) -> None:
        self._fails[c.id] += 1
        log.info("门禁控制器无应答 / controller did not answer", error=str(exc),
                 failed=self._fails[c.id])
        if self._fails[c.id] >= self.config.offline_after and self.online[c.id] is not False:
            self.online[c.id] = False
            self._started[c.id] = False
            self.stats.inc("devices_went_offline")
            log.warning("门禁控制器离线 / controller offline", error=str(exc))
            await self._emit(self._controller_event(c, Kind.CONTROLLER_OFFLINE, {
                "controller": c.serial, "reason": "timeout", "detail": str(exc),
                "message": OFFLINE_MESSAGE}))

    def _controller_event(self, c: ControllerSpec, kind: str, data: dict[str, Any]) -> NewEvent:
        return NewEvent(device=c.id, kind=kind, ts=self._clock.now(),
                        data={"v": 1, "name": c.name or c.id, **data})

    # -- events ---------------------------------------------------------------------------
    def _on_packet(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            ev = decode.event(data)
        except Exception as exc:  # anything unreadable is counted, never raised
            self.stats.inc("uhppote_malformed")
            self._log.warning("事件报文无效 / malformed event datagram",
                              peer=f"{addr[0]}:{addr[1]}", size=len(data), error=str(exc))
            return
        queue = self._queues.get(ev.controller)
        if queue is None:
            self.stats.inc("uhppote_unknown_controller")
            self._log.warning("未配置的控制器 / event from an unconfigured controller",
                              serial=ev.controller, peer=addr[0])
            return
        # Anyone on the LAN can send a datagram naming a serial: only the controller's own
        # address is believed (a forged index would move the cursor and hide real events).
        if addr[0] != split_address(self._by_serial[ev.controller].address)[0]:
            self.stats.inc("uhppote_wrong_peer")
            self._log.warning("事件来自非控制器地址，已丢弃 / event not from the controller's "
                              "address, dropped", serial=ev.controller, peer=addr[0])
            return
        self.stats.inc("uhppote_pushed")
        if ev.event_index == 0:
            return  # a status push with no event in it
        queue.put_nowait(Record(ev.controller, ev.event_index, ev.event_type,
                                bool(ev.event_access_granted), ev.event_door,
                                ev.event_direction, ev.event_card, ev.event_timestamp,
                                ev.event_reason))

    async def _take(self, c: ControllerSpec, rec: Record, log: Any) -> None:
        cursor = self.cursors.get(c.serial) or 0
        if rec.index <= cursor:
            self.stats.inc("uhppote_repeats")
            return
        if rec.index > cursor + 1:
            await self._catch_up(c, rec.index - 1, log)
        await self._store(c, rec, log)

    async def _catch_up(self, c: ControllerSpec, upto: int, log: Any) -> None:
        cursor = self.cursors.get(c.serial) or 0
        if upto < cursor:
            # The controller's log starts again below our cursor (it was reset or replaced):
            # read it all from 1, including pushes dropped as repeats meanwhile.
            self.stats.inc("uhppote_log_reset")
            log.warning("控制器事件记录已重置 / controller event log restarted",
                        cursor=cursor, latest=upto)
            self.cursors.put(c.serial, 0)
            cursor = 0
        if upto > cursor:
            log.info("按序号补读事件 / reading events by index", first=cursor + 1, last=upto)
        for index in range(cursor + 1, upto + 1):
            rec = await self.client.event(c, index)
            if rec.type == TYPE_NONE:
                break  # not on the controller (yet): the next status says more
            self.stats.inc("uhppote_caught_up")
            if rec.type == TYPE_OVERWRITTEN:
                self.stats.inc("uhppote_overwritten")
                log.warning("事件已被覆盖 / event overwritten on the controller", index=index)
                self.cursors.put(c.serial, index)
                continue
            await self._store(c, rec, log)

    async def _store(self, c: ControllerSpec, rec: Record, log: Any) -> None:
        door = self._doors.get((c.id, rec.door))
        event = to_event(rec, door, door.id if door else c.id, self._tz, self._clock.now())
        if event is None:
            self.stats.inc("uhppote_unmapped")
            log.info("未映射的控制器事件 / controller record with no event kind",
                     index=rec.index, type=rec.type, reason=rec.reason)
        else:
            await self._emit(event)
            self.stats.inc("uhppote_events")
        self.cursors.put(c.serial, rec.index)

    # -- commands -------------------------------------------------------------------------
    def _door(self, door_id: str) -> tuple[ControllerSpec, DoorSpec]:
        door = self.config.door(door_id)
        return self.config.controller(door.controller), door

    async def open_door(self, door_id: str) -> None:
        c, door = self._door(door_id)
        if not await self.client.open_door(c, door.door):
            raise ControllerError(f"open_door {door_id}: refused by the controller")

    async def set_door_mode(self, door_id: str, mode: str | int,
                            delay: int | None = None) -> tuple[str, int]:
        """Set and verify a door's control mode (``normally_open`` / ``normally_closed`` /
        ``controlled``); the delay stays the door's configured one unless given."""
        c, door = self._door(door_id)
        code = MODES[mode] if isinstance(mode, str) else mode
        got = await self.client.set_door_control(c, door.door, code,
                                                 door.open_delay if delay is None else delay)
        if got[0] != code:
            raise ControllerError(f"door {door_id}: mode is {got[0]}, not {code}")
        return MODE_NAMES.get(got[0], str(got[0])), got[1]

    async def door_mode(self, door_id: str) -> tuple[str, int]:
        c, door = self._door(door_id)
        mode, delay = await self.client.door_control(c, door.door)
        return MODE_NAMES.get(mode, str(mode)), delay

    async def sync_cards(self, controller_id: str, wanted: Iterable[CardSpec]) -> SyncReport:
        """Make one controller hold exactly ``wanted`` (see ``drivers.access.sync``)."""
        return await sync_cards(self.client, self.config.controller(controller_id), wanted)

    def status(self) -> dict[str, Any]:
        """For the edge's health page: each controller, and the driver's counters
        (requests, request errors, malformed datagrams, repeats, caught up, unmapped…)."""
        return {"controllers": {c.id: {"online": self.online[c.id], "serial": c.serial,
                                       "cursor": self.cursors.get(c.serial)}
                                for c in self.config.controllers},
                "counters": dict(self.stats.counters)}


