"""The 微耕/UHPPOTE simulator on the wire: hand-laid packets from the protocol facts, raw UDP.

The vectors are written out byte by byte from docs/protocols.md (serial 405419896 is
``78 37 2a 18`` little-endian; dates are BCD), not produced by either codec, and uhppoted's
encoder is checked against the same simulator so the two sides meet on the bytes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
from uhppoted import encode

from simulators.access import uhppote_wire as w
from simulators.access.uhppote_sim import SimController
from tests.support.uhppote_rig import loopback

SERIAL = 405419896
SERIAL_LE = bytes.fromhex("78372a18")


def packet(hex_head: str) -> bytes:
    head = bytes.fromhex(hex_head.replace(" ", ""))
    return head + bytes(64 - len(head))


class Peer:
    """A raw UDP socket standing in for the edge."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()  # type: ignore[no-any-return]

    async def ask(self, sim: SimController, data: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        await loop.sock_sendto(self.sock, data, (sim.host, sim.port))
        return await self.receive()

    async def receive(self, within: float = 2.0) -> bytes:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(within):
            data, _ = await loop.sock_recvfrom(self.sock, 1024)
        return data

    async def silent(self, sim: SimController, data: bytes) -> bool:
        await asyncio.get_running_loop().sock_sendto(self.sock, data, (sim.host, sim.port))
        try:
            await self.receive(within=0.2)
        except TimeoutError:
            return True
        return False


@pytest.fixture
async def sim() -> AsyncIterator[SimController]:
    s = await SimController(SERIAL, loopback(), 0, doors=2, capacity=3).start()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    yield p
    p.sock.close()


async def test_get_controller_reply_layout(sim: SimController, peer: Peer) -> None:
    reply = await peer.ask(sim, packet("17 94 0000" + SERIAL_LE.hex()))
    assert len(reply) == 64 and reply[:8] == bytes.fromhex("17940000") + SERIAL_LE
    assert reply[26:28] == bytes.fromhex("0892")          # firmware v8.92, BCD
    assert reply[28:32] == bytes.fromhex("20190815")      # release date, BCD


async def test_a_broadcast_get_controller_with_serial_zero_is_answered(
        sim: SimController, peer: Peer) -> None:
    reply = await peer.ask(sim, packet("17 94 0000 00000000"))
    assert reply[4:8] == SERIAL_LE


async def test_put_and_get_card_by_hand_laid_packets(sim: SimController, peer: Peer) -> None:
    # card 8165538 = 0x7c98a2; valid 2026-01-01 … 2026-12-31; door 1 any time, door 2 profile
    # 29; PIN 7531 = 0x001d6b.
    put = packet("17 50 0000" + SERIAL_LE.hex() + "a2987c00" + "20260101" + "20261231"
                 + "01 1d 00 00" + "6b1d00")
    assert (await peer.ask(sim, put))[8] == 1
    card = sim.state.cards[8165538]
    assert (card.start, card.end, card.doors, card.pin) == (
        dt.date(2026, 1, 1), dt.date(2026, 12, 31), (1, 29, 0, 0), 7531)
    got = await peer.ask(sim, packet("17 5a 0000" + SERIAL_LE.hex() + "a2987c00"))
    assert got[8:27] == bytes.fromhex("a2987c00 20260101 20261231 011d0000 6b1d00")
    missing = await peer.ask(sim, packet("17 5a 0000" + SERIAL_LE.hex() + "01000000"))
    assert missing[8:12] == bytes(4)
    count = await peer.ask(sim, packet("17 58 0000" + SERIAL_LE.hex()))
    assert count[8:12] == bytes.fromhex("01000000")


async def test_deleted_slots_and_clearing_needs_the_magic_word(sim: SimController,
                                                               peer: Peer) -> None:
    for number in (1, 2):
        req = encode.put_card_request(SERIAL, number, dt.date(2026, 1, 1),
                                      dt.date(2026, 12, 31), 1, 0, 0, 0, 0)
        assert (await peer.ask(sim, bytes(req)))[8] == 1
    assert (await peer.ask(sim, bytes(encode.delete_card_request(SERIAL, 1))))[8] == 1
    slot1 = await peer.ask(sim, bytes(encode.get_card_by_index_request(SERIAL, 1)))
    assert slot1[8:12] == b"\xff\xff\xff\xff"
    past = await peer.ask(sim, bytes(encode.get_card_by_index_request(SERIAL, 3)))
    assert past[8:12] == bytes(4)
    no_magic = packet("17 54 0000" + SERIAL_LE.hex() + "00000000")
    assert (await peer.ask(sim, no_magic))[8] == 0 and 2 in sim.state.cards
    magic = packet("17 54 0000" + SERIAL_LE.hex() + "55aaaa55")
    assert (await peer.ask(sim, magic))[8] == 1 and not sim.state.cards


async def test_pushed_event_layout(sim: SimController, peer: Peer) -> None:
    host, port = peer.address
    port_le = port.to_bytes(2, "little").hex()
    listener = packet("17 90 0000" + SERIAL_LE.hex() + "7f000001" + port_le)
    assert (await peer.ask(sim, listener))[8] == 1
    assert sim.state.listener == (host, port)
    event = sim.swipe(10058400, 2, w.DIRECTION_OUT)   # not enrolled: denied
    pushed = await peer.receive()
    assert pushed[:8] == bytes.fromhex("17200000") + SERIAL_LE
    assert pushed[8:12] == bytes.fromhex("01000000")               # index 1
    assert pushed[12:16] == bytes((w.TYPE_SWIPE, 0, 2, w.DIRECTION_OUT))
    assert pushed[16:20] == (10058400).to_bytes(4, "little")
    assert pushed[20:27] == bytes.fromhex(event.timestamp.strftime("%Y%m%d%H%M%S"))
    assert pushed[27] == w.REASON_DENIED


async def test_event_log_by_index_overwritten_and_not_yet(sim: SimController,
                                                          peer: Peer) -> None:
    for card in range(1, 6):                    # capacity 3: events 1 and 2 fall off
        sim.swipe(card, 1)
    old = await peer.ask(sim, bytes(encode.get_event_request(SERIAL, 1)))
    assert old[12] == w.TYPE_OVERWRITTEN
    kept = await peer.ask(sim, bytes(encode.get_event_request(SERIAL, 4)))
    assert (kept[8:12], kept[12], kept[16:20]) == (
        bytes.fromhex("04000000"), w.TYPE_SWIPE, (4).to_bytes(4, "little"))
    future = await peer.ask(sim, bytes(encode.get_event_request(SERIAL, 6)))
    assert future[12] == w.TYPE_NONE
    status = await peer.ask(sim, bytes(encode.get_status_request(SERIAL)))
    assert status[8:12] == bytes.fromhex("05000000")
    set_index = packet("17 b2 0000" + SERIAL_LE.hex() + "05000000" + "55aaaa55")
    assert (await peer.ask(sim, set_index))[8] == 1
    got = await peer.ask(sim, bytes(encode.get_event_index_request(SERIAL)))
    assert got[8:12] == bytes.fromhex("05000000")


async def test_door_control_and_remote_open(sim: SimController, peer: Peer) -> None:
    reply = await peer.ask(sim, packet("17 80 0000" + SERIAL_LE.hex() + "02 01 07"))
    assert reply[8:11] == bytes((2, w.NORMALLY_OPEN, 7))
    assert sim.state.relays() == 0b10
    reply = await peer.ask(sim, packet("17 82 0000" + SERIAL_LE.hex() + "02"))
    assert reply[8:11] == bytes((2, w.NORMALLY_OPEN, 7))
    assert (await peer.ask(sim, packet("17 40 0000" + SERIAL_LE.hex() + "01")))[8] == 1
    assert sim.state.doors[1].unlocked
    assert (await peer.ask(sim, packet("17 40 0000" + SERIAL_LE.hex() + "04")))[8] == 0


async def test_set_time_is_bcd_and_moves_the_controller_clock(sim: SimController,
                                                              peer: Peer) -> None:
    reply = await peer.ask(sim, packet("17 30 0000" + SERIAL_LE.hex() + "20300102030405"))
    assert reply[8:12] == bytes.fromhex("20300102")
    assert sim.state.now().date() == dt.date(2030, 1, 2)


async def test_garbage_another_serial_and_unknown_functions_get_no_reply(
        sim: SimController, peer: Peer) -> None:
    assert await peer.silent(sim, b"\x17\x20short")
    assert await peer.silent(sim, packet("18 20 0000" + SERIAL_LE.hex()))
    assert await peer.silent(sim, packet("17 20 0000 01020304"))
    assert await peer.silent(sim, packet("17 20 0000 00000000"))       # status needs a serial
    assert await peer.silent(sim, packet("17 ee 0000" + SERIAL_LE.hex()))
    assert sim.counters.malformed == 3
    assert (await peer.ask(sim, packet("17 20 0000" + SERIAL_LE.hex())))[1] == 0x20


async def test_the_command_line_serves_controllers_until_stopped() -> None:
    host = loopback()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators.access.uhppote_cli",
        "--controller", f"{SERIAL}@{host}:{port}/2", stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = (await proc.stdout.readline()).decode()
        assert line.strip() == f"serving {SERIAL} on {host}:{port} (2 doors)"
        peer = Peer()
        try:
            await asyncio.get_running_loop().sock_sendto(
                peer.sock, packet("17 94 0000" + SERIAL_LE.hex()), (host, port))
            assert (await peer.receive(within=5))[4:8] == SERIAL_LE
        finally:
            peer.sock.close()
    finally:
        proc.terminate()
        await proc.wait()
