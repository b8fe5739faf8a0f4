"""Card and PIN at a simulated OSDP reader → the edge decides → the door output, LED and
buzzer reach the reader, and the decision is recorded."""

from __future__ import annotations

import contextlib
from pathlib import Path

from contract import Kind, SystemClock
from drivers.access.osdp import OsdpBus
from drivers.access.osdp_model import LED_GREEN, LED_RED, OUTPUT_TEMPORARY_ON, ReaderSpec
from edge.access.credentials import CredentialStore
from edge.access.decide import AccessPoint, Decider
from edge.access.readers import ReaderDoors
from simulators.access import osdp_wire as w
from simulators.access.osdp_sim import OsdpReaderSim
from simulators.pty import pty_pair
from tests.drivers.harness import wait_for
from tests.drivers.osdp_rig import (
    BLOCKED_CARD,
    DOOR,
    KEY,
    OWNER_CARD,
    READER,
    UNKNOWN_CARD,
    Recorder,
    dataset,
    rig,
)


async def test_a_granted_card_pulses_the_door_output_with_green_and_one_beep(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        await r.sim.present_card(*OWNER_CARD)
        out = await r.sim.wait_command("output")
        led = await r.sim.wait_command("led")
        beep = await r.sim.wait_command("buzzer")
        assert out.fields["control_code"] == OUTPUT_TEMPORARY_ON
        assert out.fields["timer_count"] == 30          # 3 s in 100 ms ticks
        assert led.fields["on_color"] == LED_GREEN and beep.fields["rep_count"] == 1
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_GRANTED)), "granted recorded")
        [granted] = r.outbox.of(Kind.ACCESS_GRANTED)
        assert granted.device == DOOR
        assert {k: granted.data[k] for k in ("reader", "credential", "holder", "method",
                                             "card_format", "building")} == {
            "reader": READER, "credential": "5898564", "holder": "owner-1", "method": "card",
            "card_format": "h10301", "building": "1"}
        assert granted.data["relay_ms"] < 50
        assert w.OUT in {f.code for f in r.sim.trace}


async def test_unknown_and_blocked_cards_get_red_and_beeps_and_no_output(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        await r.sim.present_card(*UNKNOWN_CARD)
        await r.sim.present_card(*BLOCKED_CARD)
        await r.until(lambda: len(r.outbox.of(Kind.ACCESS_DENIED)) == 2, "two denials")
        await r.sim.wait_command("buzzer", after=1)
        reds = [c for c in r.sim.seen("led") if c.fields["on_color"] == LED_RED]
        assert len(reds) == 2 and r.sim.seen("output") == []
        assert [c.fields["rep_count"] for c in r.sim.seen("buzzer")] == [3, 3]
        assert [e.data["reason"] for e in r.outbox.of(Kind.ACCESS_DENIED)] == [
            "unknown_card", "blocked"]


async def test_card_data_with_a_bad_parity_is_denied_with_the_reason(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        bits = w.wiegand26(*OWNER_CARD)
        await r.sim.present_bits(("1" if bits[0] == "0" else "0") + bits[1:])
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_DENIED)), "denied")
        [denied] = r.outbox.of(Kind.ACCESS_DENIED)
        assert denied.data["reason"] == "bad_parity"
        assert "校验" in denied.data["message"]
        await r.sim.wait_command("led", where=lambda c: c.fields["on_color"] == LED_RED)
        assert r.sim.seen("output") == []


async def test_a_pin_opens_and_a_wrong_pin_does_not(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        await r.sim.type_keys("0000#")
        await r.sim.type_keys("25*2580#")           # * clears the mistyped start
        await r.sim.wait_command("output")
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_GRANTED)), "granted")
        [denied] = r.outbox.of(Kind.ACCESS_DENIED)
        [granted] = r.outbox.of(Kind.ACCESS_GRANTED)
        assert denied.data["reason"] == "unknown_pin"
        assert granted.data["method"] == "pin" and granted.data["holder"] == "owner-1"
        assert "2580" not in str(granted.data) and "0000" not in str(denied.data)
        assert r.outbox.of(Kind.ACCESS_DURESS) == []


async def test_a_duress_pin_opens_like_any_grant_and_raises_the_silent_alarm(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        await r.sim.present_card(*OWNER_CARD)           # the holder is now inside b1
        await r.sim.wait_command("output")
        await r.sim.type_keys("2589#")                  # anti-passback would refuse a card
        await r.sim.wait_command("output", after=1)
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_DURESS)), "duress")
        await r.sim.wait_command("buzzer", after=1)
        leds = r.sim.seen("led")
        assert [c.fields["on_color"] for c in leds] == [LED_GREEN, LED_GREEN]
        assert [c.fields["rep_count"] for c in r.sim.seen("buzzer")] == [1, 1]
        [alarm] = r.outbox.of(Kind.ACCESS_DURESS)
        assert alarm.data["holder"] == "owner-1" and alarm.data["granted"] is True
        assert len(r.outbox.of(Kind.ACCESS_GRANTED)) == 2


async def test_anti_passback_refuses_a_second_entry_without_an_exit(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.online()
        await r.sim.present_card(*OWNER_CARD)
        await r.sim.wait_command("output")
        await r.sim.present_card(*OWNER_CARD)         # the card passed back over the fence
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_DENIED)), "second entry denied")
        assert r.outbox.of(Kind.ACCESS_DENIED)[0].data["reason"] == "anti_passback"
        assert len(r.sim.seen("output")) == 1


async def test_in_and_out_readers_on_two_lines_share_one_anti_passback_area(
        tmp_path: Path) -> None:
    """A gate with an entry reader and an exit reader, each on its own RS-485 line."""
    outbox = Recorder()
    decider = Decider(CredentialStore.from_dataset(dataset()), [
        AccessPoint("r-in", DOOR, area="b1", direction="in"),
        AccessPoint("r-out", DOOR, area="b1", direction="out")])
    doors = ReaderDoors(decider, outbox, SystemClock())
    async with contextlib.AsyncExitStack() as stack:
        sims: dict[str, OsdpReaderSim] = {}
        buses: dict[str, OsdpBus] = {}
        for name, address in (("r-in", 101), ("r-out", 102)):
            edge_end, reader_end = await stack.enter_async_context(
                pty_pair(tmp_path / f"{name}.edge", tmp_path / f"{name}.reader"))
            sim = sims[name] = OsdpReaderSim(reader_end, address=address, scbk=KEY)
            await sim.start()
            stack.push_async_callback(sim.stop)
            bus = buses[name] = OsdpBus(edge_end, [ReaderSpec(name, address, KEY)], outbox,
                                        SystemClock(), doors.on_input, retry_s=1.0)
            doors.attach(bus, bus.readers)
            await bus.start()
            stack.push_async_callback(bus.stop)
        await wait_for(lambda: all(b.is_online(n) for n, b in buses.items()), within=10)

        async def swipe(reader: str) -> str:
            before = len(outbox.of(Kind.ACCESS_GRANTED)) + len(outbox.of(Kind.ACCESS_DENIED))
            await sims[reader].present_card(*OWNER_CARD)
            await wait_for(lambda: len(outbox.of(Kind.ACCESS_GRANTED))
                           + len(outbox.of(Kind.ACCESS_DENIED)) > before, within=5)
            last = [e for e in outbox.events
                    if e.kind in (Kind.ACCESS_GRANTED, Kind.ACCESS_DENIED)][-1]
            return str(last.data.get("reason", "granted"))

        assert [await swipe(r) for r in ("r-in", "r-in", "r-out", "r-out", "r-in")] == [
            "granted", "anti_passback", "granted", "anti_passback", "granted"]
        await sims["r-in"].wait_command("output", after=1)
        assert len(sims["r-in"].seen("output")) == 2 and len(sims["r-out"].seen("output")) == 1
