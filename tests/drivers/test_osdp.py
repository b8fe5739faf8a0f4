"""The OSDP control panel (libosdp CP) against a simulated reader (libosdp PD) over a pty:
secure channel, enrolment, tamper and power, offline and back."""

from __future__ import annotations

import threading
from pathlib import Path

from contract import Kind
from drivers.access.osdp_model import OUTPUT_PERMANENT_OFF, OUTPUT_PERMANENT_ON
from simulators.access import osdp_wire as w
from tests.drivers.osdp_rig import ADDRESS, KEY, OTHER_KEY, OWNER_CARD, READER, rig

#: PROTOCOLS test vector 4: the ID request to PD 101 (sequence 0, CRC).
VECTOR_ID = bytes.fromhex("FF 53 65 09 00 04 61 00 D9 7A")


async def test_the_secure_channel_comes_up_and_the_first_frame_is_vector_4s_id(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        assert r.bus.is_secure(READER)
        assert str(KEY) not in repr(r.bus.spec(READER))      # the key stays out of logs
        codes = [f.code for f in r.sim.trace]
        # ID, capabilities, then the key exchange before any poll: nothing in clear first.
        assert codes[:4] == [w.ID, w.CAP, w.CHLNG, w.SCRYPT]
        assert r.sim.trace[0] == w.parse(VECTOR_ID)
        assert w.build(ADDRESS, w.ID, b"\x00") == VECTOR_ID
        online = r.outbox.of(Kind.READER_ONLINE)
        assert [(e.device, e.data["secure"], e.data["building"]) for e in online] == [
            (READER, True, "1")]


async def test_a_reader_with_another_key_is_refused_and_reported(tmp_path: Path) -> None:
    async with rig(tmp_path, reader_key=OTHER_KEY) as r:
        await r.until(lambda: bool(r.outbox.of(Kind.READER_OFFLINE)), "offline reported")
        await r.sim.present_card(*OWNER_CARD)
        assert not r.bus.is_online(READER)
        [offline] = r.outbox.of(Kind.READER_OFFLINE)
        assert offline.data["reason"] == "secure_channel_refused"
        assert r.outbox.of(Kind.READER_ONLINE) == []
        assert r.outbox.of(Kind.ACCESS_GRANTED) == [] and r.sim.seen("output") == []


async def test_a_keyless_reader_is_refused_unless_the_edge_enrols_it(tmp_path: Path) -> None:
    async with rig(tmp_path, reader_key=None, reader_install=True) as r:
        await r.until(lambda: bool(r.outbox.of(Kind.READER_OFFLINE)), "offline reported")
        assert r.outbox.of(Kind.READER_OFFLINE)[0].data["reason"] == "secure_channel_refused"
        assert r.sim.scbk is None


async def test_enrolment_hands_the_reader_its_key_then_enforces_it(tmp_path: Path) -> None:
    async with rig(tmp_path, reader_key=None, reader_install=True, edge_install=True) as r:
        await r.until(lambda: r.enrolled == [READER], "enrolled")
        await r.online()
        assert r.sim.scbk == KEY
        assert [c.name for c in r.sim.seen("keyset")] == ["keyset"]
        await r.sim.present_card(*OWNER_CARD)
        await r.sim.wait_command("output")
        assert r.bus.is_secure(READER)


async def test_tamper_and_power_are_reported_on_each_change(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        await r.sim.set_tamper(True)
        await r.until(lambda: len(r.outbox.of(Kind.READER_TAMPER)) == 1, "tamper")
        await r.sim.set_power_fault(True)
        await r.until(lambda: len(r.outbox.of(Kind.READER_POWER_FAULT)) == 1, "power")
        await r.sim.set_tamper(False)
        await r.until(lambda: bool(r.outbox.of(Kind.READER_RESTORED)), "tamper cleared")
        [tamper] = r.outbox.of(Kind.READER_TAMPER)
        assert tamper.data["active"] is True and "防拆" in tamper.data["message"]
        [restored] = r.outbox.of(Kind.READER_RESTORED)
        assert restored.data["cleared"] == ["tamper"] and restored.device == READER
        assert [e.data["active"] for e in r.outbox.of(Kind.READER_POWER_FAULT)] == [True]


async def test_a_silent_reader_goes_offline_once_and_comes_back(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        r.sim.go_silent()
        await r.until(lambda: bool(r.outbox.of(Kind.READER_OFFLINE)), "offline", within=20)
        [offline] = r.outbox.of(Kind.READER_OFFLINE)
        assert offline.data["reason"] == "no_answer" and offline.device == READER
        r.sim.resume()
        await r.until(lambda: len(r.outbox.of(Kind.READER_ONLINE)) == 2, "back", within=20)
        assert r.outbox.of(Kind.READER_ONLINE)[1].data["after_outage"] is True
        assert len(r.outbox.of(Kind.READER_OFFLINE)) == 1
        await r.sim.present_card(*OWNER_CARD)
        await r.sim.wait_command("output")


async def test_a_stopped_reader_goes_offline_and_the_line_stops_cleanly(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        await r.sim.stop()
        await r.until(lambda: bool(r.outbox.of(Kind.READER_OFFLINE)), "offline", within=20)
        assert not r.bus.is_online(READER)
        await r.bus.stop()
        assert not [t for t in threading.enumerate() if t.name.startswith("osdp-cp")]
        await r.bus.stop()                                  # a second stop is harmless


async def test_a_door_held_open_for_fire_linkage_and_released(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        await r.bus.hold_open(READER)
        held = await r.sim.wait_command("output")
        await r.bus.release(READER)
        released = await r.sim.wait_command("output", after=1)
        assert (held.fields["control_code"], released.fields["control_code"]) == (
            OUTPUT_PERMANENT_ON, OUTPUT_PERMANENT_OFF)
