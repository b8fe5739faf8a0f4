"""`courtyard sim site` with elevators and a fire section: each elevator box answers under its
unit id where the site file puts it, and each UITD connects to the edge's fire port.

The fire port here is a small centre written in this file with asyncio streams: it cuts frames
by the byte offsets of docs/protocols.md §2 and confirms each one with bytes built by hand (checked
against vector 2), so it shares no code with the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient

from simulators.site import SafetyOptions, SiteSimulator, main
from simulators.siteconfig import SiteError, load_site
from tests.edge.helpers_cloud import wait_until
from tests.support.services import free_port

PROFILES = Path(__file__).resolve().parents[2] / "configs" / "profiles"
WAIT = 5.0  # generous bound on any single exchange; nothing sleeps to synchronise
UITD, CENTRE = 4242, 12345
FAST = SafetyOptions(uitd_heartbeat_s=0.2, uitd_reconnect_s=0.1, elevator_traffic=False)


# -- a hand-written monitoring centre -----------------------------------------------------------

def centre_frame(serial: int, command: int, *, source: int, destination: int) -> bytes:
    """A centre → device frame without data; its time tag is 2012-09-26 09:58:35."""
    body = (serial.to_bytes(2, "little") + b"\x01\x01" + bytes([35, 58, 9, 26, 9, 12])
            + source.to_bytes(6, "little") + destination.to_bytes(6, "little")
            + b"\x00\x00" + bytes([command]))
    return b"@@" + body + bytes([sum(body) % 256]) + b"##"


def test_the_hand_built_confirm_is_vector_2() -> None:
    assert centre_frame(1, 3, source=88888, destination=889) == bytes.fromhex(
        "40 40 01 00 01 01 23 3A 09 1A 09 0C 38 5B 01 00 00 00 79 03 00 00 00 00 00 00 03 AB"
        " 23 23")


def serial_of(raw: bytes) -> int:
    return int.from_bytes(raw[2:4], "little")


def source_of(raw: bytes) -> int:
    return int.from_bytes(raw[12:18], "little")


def destination_of(raw: bytes) -> int:
    return int.from_bytes(raw[18:24], "little")


def data_of(raw: bytes) -> bytes:
    return raw[27:-3]


class Centre:
    """Listens on 127.0.0.1:``port``, queues every frame and confirms it (command 3, the
    frame's serial, addresses swapped)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.frames: asyncio.Queue[bytes] = asyncio.Queue()
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        buf = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(4096):
                buf += chunk
                while len(buf) >= 30 and len(buf) >= 30 + int.from_bytes(buf[24:26], "little"):
                    total = 30 + int.from_bytes(buf[24:26], "little")
                    raw, buf = buf[:total], buf[total:]
                    self.frames.put_nowait(raw)
                    writer.write(centre_frame(serial_of(raw), 3, source=destination_of(raw),
                                              destination=source_of(raw)))
                    await writer.drain()

    async def frame(self, want: Callable[[bytes], bool] = lambda raw: True) -> bytes:
        """The next frame ``want`` accepts (others are skipped)."""
        async with asyncio.timeout(WAIT):
            while True:
                raw = await self.frames.get()
                if want(raw):
                    return raw


@contextlib.asynccontextmanager
async def centre_on(port: int) -> AsyncIterator[Centre]:
    centre = Centre(port)
    await centre.start()
    try:
        yield centre
    finally:
        await centre.stop()


def fire_site(tmp: Path, port: int, *, checksum: str = "sum") -> Path:
    path = tmp / "fire.yaml"
    path.write_text(f"""\
site: {{id: fire-sim, timezone: Asia/Shanghai}}
fire:
  port: {port}
  host: 0.0.0.0
  centre_address: {CENTRE}
  uitds:
    - {{id: uitd-a, address: {UITD}, checksum: {checksum}, peers: [127.0.0.1]}}
""", encoding="utf-8")
    return path


# -- elevators ----------------------------------------------------------------------------------

def lift_site(tmp: Path, lifts_port: int, mixed_port: int) -> Path:
    path = tmp / "lifts.yaml"
    path.write_text(f"""\
site: {{id: lift-sim}}
buses:
  - {{id: lifts, type: modbus_tcp, host: 127.0.0.1, port: {lifts_port}}}
  - {{id: mixed, type: modbus_tcp, host: 127.0.0.1, port: {mixed_port}}}
devices:
  - {{id: m-1, bus: mixed, profile: eastron_sdm120, address: 1}}
elevators:
  - {{id: e-1, name: 1号楼 A 梯, building: "1", bus: lifts, address: 1,
      profile: generic_gbt24476}}
  - {{id: e-2, building: "2", bus: lifts, address: 2, profile: vendor_status_word}}
  - {{id: e-3, building: "3", bus: mixed, address: 5, profile: generic_gbt24476,
      main_landing: -1}}
""", encoding="utf-8")
    return path


@pytest.fixture
async def lifts(tmp_path: Path) -> AsyncIterator[tuple[SiteSimulator, int, int]]:
    lifts_port, mixed_port = free_port(), free_port()
    safety = SafetyOptions(elevator_traffic=False, traps=("e-2",), trap_after=0.0)
    async with SiteSimulator(lift_site(tmp_path, lifts_port, mixed_port), PROFILES,
                             safety=safety) as sim:
        yield sim, lifts_port, mixed_port


@contextlib.asynccontextmanager
async def modbus(port: int) -> AsyncIterator[AsyncModbusTcpClient]:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0)
    assert await client.connect()
    try:
        yield client
    finally:
        client.close()


async def test_each_box_answers_on_an_elevator_only_bus(
        lifts: tuple[SiteSimulator, int, int]) -> None:
    sim, lifts_port, _ = lifts
    async with modbus(lifts_port) as client:
        # generic_gbt24476, unit 1: the car waits at floor 1, in the door zone, doors shut.
        r = await client.read_holding_registers(0x0000, count=9, device_id=1)
        assert not r.isError()
        direction, zone, floor, door, people, *_, fault_code, fault_bits = r.registers
        assert (direction, zone, floor, door, people, fault_code, fault_bits) == (
            0, 1, 1, 0, 0, 0, 0)
        # vendor_status_word, unit 2, trapped by --trap right away: FC 4, code 0x0101.
        async with asyncio.timeout(WAIT):
            while True:
                r = await client.read_input_registers(0x1000, count=4, device_id=2)
                assert not r.isError()
                if r.registers[2] == 0x0101:
                    break
                await asyncio.sleep(0.05)
        status = r.registers[0]
        assert status & 0b100 == 0, "between two floors: outside the door zone"
        assert status & 0b100000, "the passenger is inside"
    assert sim.elevators["e-2"].car.stuck


async def test_a_box_shares_a_bus_with_a_meter(lifts: tuple[SiteSimulator, int, int]) -> None:
    sim, _, mixed_port = lifts
    async with modbus(mixed_port) as client:
        meter = await client.read_input_registers(0x0000, count=2, device_id=1)
        assert not meter.isError(), "the meter still answers on its unit id"
        r = await client.read_holding_registers(0x0002, count=1, device_id=5)
        assert r.registers == [1]
        # a recall written to the control register sends the car to its main landing (-1)
        w = await client.write_register(0x0020, 1, device_id=5)
        assert not w.isError()
    car = sim.elevators["e-3"].car
    assert car.recalled and car.direction == "down"


async def test_summary_lists_the_boxes_with_their_units(
        lifts: tuple[SiteSimulator, int, int]) -> None:
    sim, lifts_port, _ = lifts
    lines = sim.summary()
    assert any(f"127.0.0.1:{lifts_port}" in ln and "1=elevator:e-1, 2=elevator:e-2" in ln
               for ln in lines)
    (e1,) = [ln for ln in lines if ln.startswith("电梯 e-1")]
    assert "单元 1" in e1 and "elevator e-1: bus lifts unit 1" in e1
    assert e1.index("电梯") < e1.index("elevator")  # Chinese first
    (e2,) = [ln for ln in lines if ln.startswith("电梯 e-2")]
    assert "passenger trapped after 0 s" in e2


# -- fire ---------------------------------------------------------------------------------------

async def test_the_uitd_connects_and_sends_heartbeats(tmp_path: Path) -> None:
    port = free_port()
    async with centre_on(port) as centre, \
            SiteSimulator(fire_site(tmp_path, port), PROFILES, safety=FAST) as sim:
        first = await centre.frame()
        second = await centre.frame()
        for raw, serial in ((first, 0), (second, 1)):
            assert raw[26] == 2 and data_of(raw) == b"", "a heartbeat: command 2, no data"
            assert (source_of(raw), destination_of(raw)) == (UITD, CENTRE)
            assert serial_of(raw) == serial
        uitd = sim.uitds["uitd-a"]
        assert uitd.heartbeats and uitd.heartbeats[0].ok, "the centre's confirm was matched"
        line = next(ln for ln in sim.summary() if "uitd-a" in ln)
        assert f"地址 {UITD}" in line and f"UITD uitd-a: address {UITD}" in line
        assert f"127.0.0.1:{port}" in line, "0.0.0.0 in the file: the edge on this machine"


async def test_the_fire_scenario_sends_a_fire(tmp_path: Path) -> None:
    port = free_port()
    safety = SafetyOptions(fire_scenario="fire", uitd_heartbeat_s=30.0)
    async with centre_on(port) as centre, \
            SiteSimulator(fire_site(tmp_path, port, checksum="sum"), PROFILES, safety=safety):
        raw = await centre.frame(lambda f: f[26] == 2 and data_of(f)[:1] == b"\x02")
        data = data_of(raw)
        assert data[1] == 1, "one component object"
        status = int.from_bytes(data[2 + 7:2 + 9], "little")
        assert status & 0b10, f"fire bit set in status 0x{status:04X}"
        assert source_of(raw) == UITD
        assert sum(raw[2:-3]) % 256 == raw[-3], "the standard checksum"


async def test_the_uitd_keeps_trying_until_the_edge_listens(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    async with SiteSimulator(fire_site(tmp_path, port), PROFILES, safety=FAST) as sim:
        printed: list[str] = []

        def waiting() -> bool:
            printed.append(capsys.readouterr().out)
            return "尚未就绪" in "".join(printed)

        await wait_until(waiting, within=WAIT, what="the UITD saying it waits for the edge")
        assert "is not up yet" in "".join(printed)
        assert "uitd-a" not in sim.uitds
        async with centre_on(port) as centre:
            raw = await centre.frame()
            assert (source_of(raw), serial_of(raw)) == (UITD, 0)
            assert centre.connections == 1
        out = capsys.readouterr().out
        assert "已连接边缘" in out and "connected to the edge" in out


async def test_the_uitd_reconnects_after_the_edge_restarts(tmp_path: Path) -> None:
    port = free_port()
    async with SiteSimulator(fire_site(tmp_path, port), PROFILES, safety=FAST):
        async with centre_on(port) as centre:
            assert serial_of(await centre.frame()) == 0
        async with centre_on(port) as again:
            raw = await again.frame()
            assert serial_of(raw) == 0, "a new connection starts its serials at 0"


# -- what the site file and the command line must get right --------------------------------------

@pytest.mark.parametrize("body, says", [
    ("elevators: [{id: e, bus: nowhere, address: 1, profile: generic_gbt24476}]",
     "elevator e: bus 'nowhere'"),
    ("buses: [{id: b, type: modbus_tcp, port: 1}]\n"
     "elevators: [{id: e, bus: b, address: 300, profile: generic_gbt24476}]",
     "elevators.e.address"),
    ("fire: {port: 9001, uitds: [{id: u, address: 1, checksum: crc}]}", "fire.uitds.u.checksum"),
    ("fire: {port: 9001, uitds: [{id: u, address: 281474976710656}]}", "fire.uitds.u.address"),
    ("fire: {port: nine, uitds: []}", "fire.port"),
])
def test_bad_safety_sections_are_named(tmp_path: Path, body: str, says: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("site: {id: x}\n" + body + "\n", encoding="utf-8")
    with pytest.raises(SiteError, match="/") as err:  # bilingual
        load_site(path)
    assert says in str(err.value)


def test_fire_defaults(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("site: {id: x}\nfire: {port: 9001, uitds: [{id: u, address: 889}]}\n",
                    encoding="utf-8")
    fire = load_site(path).fire
    assert fire is not None
    assert (fire.connect_host, fire.centre_address, fire.uitds[0].checksum) == (
        "127.0.0.1", 88888, "sum")


async def test_a_unit_used_twice_on_a_bus_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(f"""\
site: {{id: x}}
buses: [{{id: b, type: modbus_tcp, host: 127.0.0.1, port: {free_port()}}}]
devices: [{{id: m, bus: b, profile: eastron_sdm120, address: 3}}]
elevators: [{{id: e, bus: b, address: 3, profile: generic_gbt24476}}]
""", encoding="utf-8")
    with pytest.raises(SiteError, match="unit 3 repeats on bus b"):
        async with SiteSimulator(path, PROFILES):
            pass


def test_cli_refuses_to_trap_an_unknown_elevator(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = lift_site(tmp_path, free_port(), free_port())
    assert main([str(path), "--profiles", str(PROFILES), "--trap", "e-9"]) == 2
    out = capsys.readouterr().out
    assert "没有电梯 e-9" in out and "no elevator e-9" in out
