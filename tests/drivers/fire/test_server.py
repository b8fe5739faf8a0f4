"""The receiver over real TCP, driven by a raw UITD written here (asyncio streams, frames from
the vector bytes or assembled by hand, read back without the driver's codec)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from contract import FakeClock, NewEvent
from drivers.base import DriverStats
from drivers.fire import FireConfig, FireServer, UitdConfig, ZoneLocation
from tests.drivers.fire.vectors import (
    CENTRE_ADDRESS,
    RS_UITD_POWER_FAULT,
    V1_FIRE,
    V2_CONFIRM,
    V2_DENY,
    V3_BAD_CHECKSUM,
    V3_FIRE,
    hand_frame,
    hx,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Vector 2's reply time tag is 2012-09-26 09:58:35 site time.
AT_VECTOR_2 = datetime(2012, 9, 26, 1, 58, 35, tzinfo=UTC)
FIRE_ZONE = ZoneLocation("1栋", "3层", "东侧走廊", system_type=1, system_address=1, zone=10)
UITD = UitdConfig(id="uitd-1", address=889, building="1栋", peers=("127.0.0.1",),
                  locations=(FIRE_ZONE,))
CONFIRM, DENY = 3, 6


def serial(raw: bytes) -> int:
    return int.from_bytes(raw[2:4], "little")


def command(raw: bytes) -> int:
    return raw[26]


def app_data(raw: bytes) -> bytes:
    return raw[27:-3]


def heartbeat(n: int) -> bytes:
    return hand_frame(n, 2)


@dataclass
class Recorder:
    events: list[NewEvent] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, event: NewEvent) -> None:
        if self.fail:
            raise OSError("disk full")
        self.events.append(event)

    def of(self, kind: str) -> list[NewEvent]:
        return [e for e in self.events if e.kind == kind]

    def liveness(self) -> list[str]:
        return [e.kind for e in self.events if e.kind in ("device.online", "device.offline")]


class RawUitd:
    """The device side: writes bytes, reads whole frames (checking start and end)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.skipped: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def frame(self) -> bytes:
        async with asyncio.timeout(5):
            head = await self.reader.readexactly(27)
            rest = await self.reader.readexactly(int.from_bytes(head[24:26], "little") + 3)
        raw = head + rest
        assert raw[:2] == b"@@" and raw[-2:] == b"##"
        return raw

    async def next(self, *commands: int) -> bytes:
        """The next frame with one of ``commands``; others (our clock sync…) are kept aside."""
        while True:
            raw = await self.frame()
            if command(raw) in commands:
                return raw
            self.skipped.append(raw)

    async def closed_by_server(self) -> bool:
        async with asyncio.timeout(5):
            while True:
                chunk = await self.reader.read(4096)
                if not chunk:
                    return True

    def close(self) -> None:
        self.writer.close()


@dataclass
class Site:
    server: FireServer
    recorder: Recorder
    stats: DriverStats
    clock: FakeClock
    task: asyncio.Task[None]
    clients: list[RawUitd] = field(default_factory=list)
    stopped: bool = False

    async def stop(self) -> None:
        self.stopped = True
        self.task.cancel()
        with suppress(asyncio.CancelledError):
            await self.task

    async def connect(self) -> RawUitd:
        assert self.server.port is not None
        async with asyncio.timeout(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
        client = RawUitd(reader, writer)
        self.clients.append(client)
        return client


@asynccontextmanager
async def serving(*uitds: UitdConfig, start: datetime = AT_VECTOR_2) -> AsyncIterator[Site]:
    clock = FakeClock(start)
    recorder, stats = Recorder(), DriverStats()
    config = FireConfig(port=0, host="127.0.0.1", centre_address=CENTRE_ADDRESS,
                        uitds=uitds or (UITD,))
    server = FireServer(config, recorder, clock, SHANGHAI, "demo", stats)
    server.watchdog_tick = 0.01
    task = asyncio.create_task(server.run())
    async with asyncio.timeout(5):
        await server.ready.wait()
    site = Site(server, recorder, stats, clock, task)
    try:
        yield site
        assert site.stopped or not task.done(), "run() ended on its own"
    finally:
        for c in site.clients:
            c.close()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.01)


async def test_fire_is_confirmed_as_vector_2_and_raises_a_located_alarm() -> None:
    async with serving() as site:
        uitd = await site.connect()
        await uitd.send(V1_FIRE)
        assert await uitd.next(CONFIRM, DENY) == V2_CONFIRM
        # Confirmed only once stored: the alarm is already there.
        (alarm,) = site.recorder.of("fire.alarm")
        assert alarm.device == "uitd-1"
        assert alarm.ts == datetime(2012, 9, 26, 1, 58, 2, tzinfo=UTC)
        assert alarm.data["location"] == {"building": "1栋", "floor": "3层", "area": "东侧走廊"}
        assert alarm.data["location_text"] == "1栋 3层 东侧走廊"
        assert (alarm.data["zone"], alarm.data["position"], alarm.data["serial"]) == (10, 2, 1)
        assert site.recorder.liveness() == ["device.online"]
        status = site.server.status()["uitds"]["uitd-1"]
        assert status["connected"] and status["peer"] == "127.0.0.1"
        assert status["counters"]["frames_ok"] == 1


async def test_bad_checksum_is_denied_with_the_serial_and_the_next_frame_works() -> None:
    async with serving() as site:
        uitd = await site.connect()
        await uitd.send(V1_FIRE[:-3] + b"\x47##")
        assert await uitd.next(CONFIRM, DENY) == V2_DENY
        assert site.recorder.of("fire.alarm") == []
        await uitd.send(V1_FIRE)
        assert await uitd.next(CONFIRM, DENY) == V2_CONFIRM
        assert len(site.recorder.of("fire.alarm")) == 1
        assert site.stats.get("frames_denied_checksum") == 1


async def test_vector_3_bad_checksum_denied_then_the_gb18030_fire_arrives() -> None:
    uitd3 = UitdConfig(id="uitd-3", address=0, building="A座", peers=("127.0.0.1",))
    async with serving(uitd3) as site:
        uitd = await site.connect()
        await uitd.send(V3_BAD_CHECKSUM)
        deny = await uitd.next(CONFIRM, DENY)
        assert (command(deny), serial(deny)) == (DENY, 0)
        assert deny[12:18] == hx("06 05 04 03 02 01") and deny[18:24] == bytes(6)
        await uitd.send(V3_FIRE)
        confirm = await uitd.next(CONFIRM, DENY)
        assert (command(confirm), serial(confirm)) == (CONFIRM, 0)
        (alarm,) = site.recorder.of("fire.alarm")
        assert alarm.data["description"] == "Ａ区１层呷哺走廊"
        assert alarm.data["location"] == {"building": "A座", "floor": None, "area": None}


async def test_two_frames_in_one_write() -> None:
    power_fault = hand_frame(2, 2, app_data(RS_UITD_POWER_FAULT))
    async with serving() as site:
        uitd = await site.connect()
        await uitd.send(V1_FIRE + power_fault)
        first = await uitd.next(CONFIRM, DENY)
        second = await uitd.next(CONFIRM, DENY)
        assert [(command(f), serial(f)) for f in (first, second)] == [(3, 1), (3, 2)]
        assert len(site.recorder.of("fire.alarm")) == 1
        assert len(site.recorder.of("uitd.power_fault")) == 1


async def test_a_frame_split_over_writes() -> None:
    async with serving() as site:
        uitd = await site.connect()
        for piece in (V1_FIRE[:5], V1_FIRE[5:40], V1_FIRE[40:]):
            await uitd.send(piece)
            await asyncio.sleep(0.01)
        assert await uitd.next(CONFIRM, DENY) == V2_CONFIRM


async def test_heartbeat_timeout_goes_offline_and_reconnect_comes_back() -> None:
    async with serving() as site:
        uitd = await site.connect()
        await uitd.send(heartbeat(0))
        assert serial(await uitd.next(CONFIRM)) == 0
        assert site.recorder.liveness() == ["device.online"]
        site.clock.advance(91)
        assert await uitd.closed_by_server()
        assert site.recorder.liveness() == ["device.online", "device.offline"]
        offline = site.recorder.of("device.offline")[0]
        assert offline.data["reason"] == "heartbeat_timeout"
        assert offline.data["message"].startswith("用户信息传输装置离线")
        again = await site.connect()
        await again.send(heartbeat(0))
        await again.next(CONFIRM)
        assert site.recorder.liveness() == ["device.online", "device.offline", "device.online"]


async def test_a_peer_not_listed_is_refused() -> None:
    elsewhere = UitdConfig(id="uitd-1", address=889, peers=("10.9.9.9",))
    async with serving(elsewhere) as site:
        uitd = await site.connect()
        assert await uitd.closed_by_server()
        assert site.stats.get("connections_refused") == 1
        assert site.server.status()["uitds"]["uitd-1"]["connected"] is False


async def test_clock_sync_on_connect_carries_the_injected_time() -> None:
    async with serving(start=datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)) as site:
        uitd = await site.connect()
        await uitd.send(heartbeat(0))
        await uitd.next(CONFIRM)
        sync = await uitd.next(1)
        # 20:00:00 on 1 March 2026 in Shanghai: sec, min, hour, day, month, year-2000.
        assert app_data(sync) == hx("5A 01 00 00 14 01 03 1A")
        assert sync[6:12] == hx("00 00 14 01 03 1A")
        assert int.from_bytes(sync[12:18], "little") == CENTRE_ADDRESS
        assert int.from_bytes(sync[18:24], "little") == 889
        assert sum(sync[2:-3]) % 256 == sync[-3]
        request = await uitd.next(4)
        assert app_data(request) == hx("3D 01 01 01")  # read system 1/1 status
        assert serial(sync) != serial(request)
        await uitd.send(hand_frame(serial(sync), CONFIRM))
        await uitd.send(hand_frame(serial(request), 5, hx("01 01 01 01 01 00") + bytes(6)))
        await eventually(lambda: site.server.status()["uitds"]["uitd-1"]["last_clock_sync"]
                         is not None)
        await eventually(lambda: bool(site.recorder.of("fire.system_status")))
        assert site.stats.get("replies_unmatched") == 0


async def test_request_waits_for_the_response_and_emits_its_data() -> None:
    async with serving() as site:
        uitd = await site.connect()
        await uitd.send(heartbeat(0))
        await uitd.next(CONFIRM)
        asked = asyncio.create_task(site.server.request("uitd-1", 81))
        request = await uitd.next(4)
        while app_data(request) != hx("51 01 00"):  # skip the request 61 sent on connect
            request = await uitd.next(4)
        assert not asked.done()
        await uitd.send(hand_frame(serial(request), 5, app_data(RS_UITD_POWER_FAULT)))
        async with asyncio.timeout(5):
            await asked
        assert [e.data["condition"] for e in site.recorder.of("uitd.power_fault")] == [
            "main_power_fault"]


async def test_unknown_source_gets_no_reply_and_no_event() -> None:
    async with serving() as site:
        uitd = await site.connect()
        stranger = hand_frame(7, 2, app_data(V1_FIRE), source=12345)
        await uitd.send(stranger + V1_FIRE)
        # Replies come in order: the first one answers the known UITD's frame.
        assert await uitd.next(CONFIRM, DENY) == V2_CONFIRM
        assert len(site.recorder.of("fire.alarm")) == 1
        assert site.stats.get("frames_unknown_source") == 1


async def test_a_new_connection_replaces_the_old_one_once_it_fell_silent() -> None:
    async with serving() as site:
        old = await site.connect()
        await old.send(heartbeat(0))
        await old.next(CONFIRM)
        site.clock.advance(UITD.displace_after + 1)  # a half-open socket after a link drop
        new = await site.connect()
        await new.send(heartbeat(0))
        await new.next(CONFIRM)
        assert await old.closed_by_server()
        assert site.recorder.liveness() == ["device.online"]
        await new.send(V1_FIRE)
        confirm = await new.next(CONFIRM, DENY)  # its time tag is the moved clock's
        assert (command(confirm), serial(confirm)) == (CONFIRM, 1)
        assert site.server.status()["uitds"]["uitd-1"]["connected"] is True


async def test_unknown_command_and_oversize_are_denied_and_the_stream_goes_on() -> None:
    oversize_header = V1_FIRE[:24] + b"\xff\xff" + V1_FIRE[26:27]
    async with serving() as site:
        uitd = await site.connect()
        await uitd.send(hand_frame(3, 7))
        assert (command(d := await uitd.next(CONFIRM, DENY)), serial(d)) == (DENY, 3)
        await uitd.send(oversize_header)
        assert (command(d := await uitd.next(CONFIRM, DENY)), serial(d)) == (DENY, 1)
        await uitd.send(V1_FIRE)
        assert await uitd.next(CONFIRM, DENY) == V2_CONFIRM
        assert site.stats.get("frames_unknown_command") == 1
        assert site.stats.get("frames_oversize") == 1


async def test_unknown_type_flag_is_confirmed_and_counted() -> None:
    async with serving() as site:
        uitd = await site.connect()
        await uitd.send(hand_frame(4, 2, hx("19 01 01 01")))
        assert (command(c := await uitd.next(CONFIRM, DENY)), serial(c)) == (CONFIRM, 4)
        assert site.stats.get("unknown_type") == 1
        assert site.recorder.liveness() == ["device.online"]
        assert [e for e in site.recorder.events if e.kind.startswith("fire.")] == []


async def test_a_resent_frame_is_confirmed_again_without_a_second_alarm() -> None:
    async with serving() as site:
        uitd = await site.connect()
        await uitd.send(V1_FIRE)
        await uitd.next(CONFIRM)
        await uitd.send(V1_FIRE)
        assert await uitd.next(CONFIRM, DENY) == V2_CONFIRM
        assert len(site.recorder.of("fire.alarm")) == 1


async def test_a_fire_that_could_not_be_stored_is_not_confirmed() -> None:
    async with serving() as site:
        uitd = await site.connect()
        site.recorder.fail = True
        await uitd.send(V1_FIRE + heartbeat(9))
        # The first reply is the heartbeat's: the fire got none, so the device will resend.
        assert serial(await uitd.next(CONFIRM, DENY)) == 9
        site.recorder.fail = False
        await uitd.send(V1_FIRE)
        assert await uitd.next(CONFIRM, DENY) == V2_CONFIRM
        assert len(site.recorder.of("fire.alarm")) == 1
        assert site.stats.get("emit_failed") >= 1
        assert site.recorder.liveness() == ["device.online"]  # not lost with the storage


async def test_xor_checksum_and_big_endian_serial_per_device() -> None:
    odd = UitdConfig(id="uitd-x", address=889, peers=("127.0.0.1",), checksum="xor",
                     serial_order="big")
    async with serving(odd) as site:
        uitd = await site.connect()
        await uitd.send(hand_frame(0x0102, 2, app_data(V1_FIRE), checksum="xor",
                                   serial_order="big"))
        reply = await uitd.next(CONFIRM, DENY)
        assert command(reply) == CONFIRM and reply[2:4] == hx("01 02")
        check = 0
        for b in reply[2:-3]:
            check ^= b
        assert reply[-3] == check
        assert len(site.recorder.of("fire.alarm")) == 1


async def test_clock_is_synchronised_again_after_the_interval() -> None:
    patient = UitdConfig(id="uitd-1", address=889, peers=("127.0.0.1",),
                         heartbeat_timeout=3600, clock_sync_interval=600)
    async with serving(patient, start=datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)) as site:
        uitd = await site.connect()
        await uitd.send(heartbeat(0))
        first = await uitd.next(1)
        await uitd.send(hand_frame(serial(first), CONFIRM))
        site.clock.advance(601)
        second = await uitd.next(1)
        assert app_data(second) == hx("5A 01 01 0A 14 01 03 1A")  # 20:10:01
        assert serial(second) != serial(first)


async def test_stopping_the_server_closes_its_connections() -> None:
    async with serving() as site:
        uitd = await site.connect()
        await uitd.send(heartbeat(0))
        await uitd.next(CONFIRM)
        await site.stop()
        assert await uitd.closed_by_server()
        assert site.server.ready.is_set() is False
