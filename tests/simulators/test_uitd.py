"""The virtual UITD against a small monitoring centre written here with asyncio streams.

The centre builds its frames by hand (``centre_frame``, checked against vector 2) and cuts what
it receives by the byte offsets of docs/protocols.md §2, so it shares no code with the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from simulators.fire import SCENARIOS, Sent, VirtualUitd, run_uitd

REPO = Path(__file__).resolve().parents[2]
UITD, CENTRE = 889, 88888
NOW = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)  # 16:00:00 in Asia/Shanghai
WAIT = 5.0  # generous bound on any single exchange; tests never sleep to synchronise


def centre_frame(serial: int, command: int, data: bytes = b"", *, source: int = CENTRE,
                 destination: int = UITD, checksum: int | None = None) -> bytes:
    """A centre → device frame, byte by byte; its time tag is 2012-09-26 09:58:35."""
    body = (serial.to_bytes(2, "little") + b"\x01\x01" + bytes([35, 58, 9, 26, 9, 12])
            + source.to_bytes(6, "little") + destination.to_bytes(6, "little")
            + len(data).to_bytes(2, "little") + bytes([command]) + data)
    return b"@@" + body + bytes([sum(body) % 256 if checksum is None else checksum]) + b"##"


def serial_of(raw: bytes) -> int:
    return int.from_bytes(raw[2:4], "little")


def command_of(raw: bytes) -> int:
    return raw[26]


def data_of(raw: bytes) -> bytes:
    return raw[27:-3]


def test_the_hand_built_centre_frame_is_vector_2() -> None:
    confirm = bytes.fromhex("40 40 01 00 01 01 23 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00"
                            " 00 00 00 00 03 AB 23 23")
    assert centre_frame(1, 3) == confirm


class Centre:
    """Accepts UITD connections; queues every frame received. ``auto`` = "confirm" or "deny"
    answers each command-2 frame by itself; None leaves the answers to the test."""

    def __init__(self, auto: str | None = None) -> None:
        self.auto = auto
        self.frames: asyncio.Queue[bytes] = asyncio.Queue()
        self.all: list[bytes] = []
        self.connections = 0
        self.connected = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writer = writer
        self.connected.set()
        buf = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(4096):
                buf += chunk
                while len(buf) >= 27 and len(buf) >= 30 + int.from_bytes(buf[24:26], "little"):
                    total = 30 + int.from_bytes(buf[24:26], "little")
                    raw, buf = buf[:total], buf[total:]
                    assert raw[:2] == b"@@" and raw[-2:] == b"##", raw
                    assert raw[-3] == sum(raw[2:-3]) % 256, "the UITD's checksum is wrong"
                    self.all.append(raw)
                    await self.frames.put(raw)
                    if self.auto and command_of(raw) == 2:
                        await self.send(centre_frame(serial_of(raw),
                                                     3 if self.auto == "confirm" else 6))
        writer.close()

    async def send(self, raw: bytes) -> None:
        assert self.writer is not None
        self.writer.write(raw)
        await self.writer.drain()

    async def next(self, where: Callable[[bytes], bool] = lambda raw: True) -> bytes:
        """The next received frame for which ``where`` holds (others are skipped)."""
        async with asyncio.timeout(WAIT):
            while True:
                raw = await self.frames.get()
                if where(raw):
                    return raw

    async def drop(self) -> None:
        """Close the current connection (a centre restart)."""
        assert self.writer is not None
        self.connected.clear()
        self.writer.close()


@pytest.fixture
async def centre() -> AsyncIterator[Centre]:
    c = Centre()
    await c.start()
    yield c
    await c.stop()


@pytest.fixture
async def uitd(centre: Centre) -> AsyncIterator[VirtualUitd]:
    u = VirtualUitd("127.0.0.1", centre.port, heartbeat_s=0, confirm_timeout=0.3, retries=2,
                    clock=lambda: NOW)
    async with u:
        async with asyncio.timeout(WAIT):
            await centre.connected.wait()
        yield u


def _fire(u: VirtualUitd) -> asyncio.Task[Sent]:
    return asyncio.create_task(u.send_component(1, 1, 42, 10, 2, 0x0002, "1号楼3层走廊烟感"))


async def test_a_confirm_is_matched_by_its_serial(centre: Centre, uitd: VirtualUitd) -> None:
    sending = _fire(uitd)
    first = await centre.next()
    assert (serial_of(first), command_of(first)) == (0, 2)  # first frame after connecting
    assert data_of(first)[:2] == b"\x02\x01"  # type 2, one object
    await centre.send(centre_frame(5, 3))  # a confirm for some other frame: not ours
    again = await centre.next()
    assert again == first  # so it was sent again, unchanged
    await centre.send(centre_frame(0, 3))
    sent = await sending
    assert (sent.outcome, sent.attempts, sent.serial) == ("confirmed", 2, 0)
    assert uitd.stats.unmatched_answers == 1
    assert sent.sent_at.tzinfo is not None and sent.rtt_s is not None

    second = _fire(uitd)
    raw = await centre.next()
    await centre.send(centre_frame(serial_of(raw), 3))
    assert ((await second).serial, (await second).attempts) == (1, 1)


async def test_a_deny_makes_it_send_the_same_frame_again(centre: Centre,
                                                         uitd: VirtualUitd) -> None:
    sending = _fire(uitd)
    first = await centre.next()
    await centre.send(centre_frame(serial_of(first), 6))
    again = await centre.next()
    assert again == first
    await centre.send(centre_frame(serial_of(again), 3))
    sent = await sending
    assert (sent.outcome, sent.attempts, sent.denials) == ("confirmed", 2, 1)


async def test_denied_every_time_it_gives_up_as_denied(centre: Centre,
                                                       uitd: VirtualUitd) -> None:
    centre.auto = "deny"
    sent = await uitd.send_uitd_status(0x09)
    assert (sent.outcome, sent.attempts, sent.denials) == ("denied", 3, 3)
    assert {serial_of(r) for r in centre.all} == {sent.serial}


async def test_no_answer_means_retries_then_timed_out(centre: Centre,
                                                      uitd: VirtualUitd) -> None:
    sent = await uitd.send_system_status(1, 1, 0x0003)
    assert (sent.outcome, sent.attempts) == ("timed out", 3)
    frames = [await centre.next() for _ in range(3)]
    assert frames[0] == frames[1] == frames[2] == sent.frame
    assert uitd.stats.timeouts == 3


async def test_requests_61_62_81_are_answered_with_the_same_serial(
        centre: Centre, uitd: VirtualUitd) -> None:
    centre.auto = "confirm"
    assert (await uitd.send_system_status(1, 1, 0x0003)).ok
    assert (await _fire(uitd)).ok
    assert (await uitd.send_uitd_status(0x09)).ok

    await centre.send(centre_frame(0x1234, 4, bytes([61, 1, 1, 1])))
    raw = await centre.next(lambda r: command_of(r) == 5)
    assert serial_of(raw) == 0x1234
    assert raw[12:18] == UITD.to_bytes(6, "little") and raw[18:24] == CENTRE.to_bytes(6, "little")
    # type 1, one object: system 1/1, status 0x0003, time 16:00:00 on 2026-11-22 (site time)
    assert data_of(raw) == bytes([1, 1, 1, 1, 3, 0, 0, 0, 16, 22, 11, 26])

    await centre.send(centre_frame(0x0102, 4, bytes([81, 1, 0])))
    raw = await centre.next(lambda r: command_of(r) == 5)
    assert serial_of(raw) == 0x0102
    assert data_of(raw) == bytes([21, 1, 0x09, 0, 0, 16, 22, 11, 26])

    await centre.send(centre_frame(7, 4, bytes([62, 1, 1, 1, 10, 0, 2, 0])))
    raw = await centre.next(lambda r: command_of(r) == 5)
    obj = data_of(raw)[2:]
    assert serial_of(raw) == 7 and data_of(raw)[:2] == bytes([2, 1])
    assert obj[:9] == bytes([1, 1, 42, 10, 0, 2, 0, 2, 0])
    assert obj[9:40].rstrip(b"\x00").decode("gb18030") == "1号楼3层走廊烟感"


async def test_clock_sync_is_confirmed_recorded_and_used(centre: Centre,
                                                         uitd: VirtualUitd) -> None:
    centre.auto = "confirm"
    await centre.send(centre_frame(77, 1, bytes([90, 1, 5, 4, 3, 2, 1, 30])))
    raw = await centre.next(lambda r: command_of(r) == 3)
    assert (serial_of(raw), data_of(raw)) == (77, b"")
    assert uitd.clock_set_to == datetime(2030, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    sent = await uitd.send_uitd_status(0x01)
    assert sent.frame[6:12] == bytes([5, 4, 3, 2, 1, 30])  # its clock now runs from there

    await centre.send(centre_frame(78, 1, bytes([91, 1, 10])))  # duty check, 10 minutes
    raw = await centre.next(lambda r: command_of(r) == 3)
    assert serial_of(raw) == 78 and uitd.duty_checks == [10]


async def test_bad_frames_from_the_centre_are_denied_and_the_link_stays_up(
        centre: Centre, uitd: VirtualUitd) -> None:
    await centre.send(b"hello" + centre_frame(9, 4, bytes([81, 1, 0]), checksum=0x00))
    raw = await centre.next()
    assert (serial_of(raw), command_of(raw)) == (9, 6)
    await centre.send(centre_frame(10, 0x07))  # a command the standard does not define
    raw = await centre.next()
    assert (serial_of(raw), command_of(raw)) == (10, 6)
    await centre.send(centre_frame(11, 4, bytes([81, 1, 0])))
    raw = await centre.next()
    assert (serial_of(raw), command_of(raw)) == (11, 5)
    assert uitd.connected and uitd.stats.bad_frames == 2
    assert [e.reason for e in uitd.rejected] == ["garbage", "checksum"]
    assert [f.serial for f in uitd.received] == [10, 11]


async def test_heartbeats_appear_with_their_own_serials(centre: Centre) -> None:
    centre.auto = "confirm"
    async with VirtualUitd("127.0.0.1", centre.port, heartbeat_s=0.05, clock=lambda: NOW) as u:
        one = await centre.next()
        two = await centre.next()
    for raw in (one, two):
        assert command_of(raw) == 2 and data_of(raw) == b""
        assert raw[12:18] == UITD.to_bytes(6, "little")
    assert serial_of(two) == serial_of(one) + 1
    assert u.heartbeats[0].ok  # the first was confirmed before the second went out


async def test_run_uitd_plays_the_scenario_and_reconnects(centre: Centre) -> None:
    centre.auto = "confirm"
    stop = asyncio.Event()
    runner = asyncio.create_task(run_uitd("127.0.0.1", centre.port, 889, "power_fault", stop,
                                          speed=1000.0, reconnect_s=0.05))
    n = len(SCENARIOS["power_fault"])
    serials = [serial_of(await centre.next()) for _ in range(n)]
    assert serials == list(range(n))
    await centre.drop()
    async with asyncio.timeout(WAIT):
        await centre.connected.wait()  # it came back by itself
    assert centre.connections == 2
    stop.set()
    async with asyncio.timeout(WAIT):
        results = await runner
    assert [r.outcome for r in results] == ["confirmed"] * n


async def _cli(centre: Centre, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators.fire", "--connect", f"127.0.0.1:{centre.port}",
        "--heartbeat", "0", *args, cwd=REPO, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not any("serving" in line for line in lines):
                line = (await proc.stdout.readline()).decode()
                assert line, "".join(lines)
                lines.append(line)
            lines.append((await proc.stdout.read()).decode())
            return await proc.wait(), "".join(lines)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_command_line_plays_a_scenario_and_exits_0(centre: Centre) -> None:
    centre.auto = "confirm"
    rc, out = await _cli(centre, "--scenario", "fire", "--speed", "1000")
    assert rc == 0, out
    sent = [r for r in centre.all if command_of(r) == 2 and data_of(r)]
    assert len(sent) == len(SCENARIOS["fire"])
    assert "火警" in out and "confirmed" in out


async def test_command_line_exits_non_zero_when_denied(centre: Centre) -> None:
    centre.auto = "deny"
    rc, out = await _cli(centre, "--scenario", "power_fault", "--speed", "1000",
                         "--retries", "0")
    assert rc != 0, out
    assert "denied" in out
