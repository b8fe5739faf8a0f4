"""Door schedules on an OSDP reader door, through the edge daemon with a simulated reader on a
pty (libosdp's PD on the other end) and the edge's clock moved by the test: within a
``first_card`` window the door stays with the reader's grants until the first granted card,
then the edge holds the reader's output on (permanent on) until the window ends, when it lets
it go (permanent off); each change is a ``door.mode_changed`` in the outbox. A fire reset
within a window leaves the reader's output held for the schedule (line observed)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from contract import FakeClock, Kind
from contract.commands import DoorMode
from drivers.access.osdp_model import OUTPUT_PERMANENT_OFF, OUTPUT_PERMANENT_ON
from edge.access.credentials import CredentialStore
from edge.access.egress import ReaderDoor, ReaderEgress
from edge.access.schedule_wiring import guard_doors
from edge.access.scheduler import DoorScheduler
from edge.app import EdgeApp
from edge.commands.doors import DoorRegistry
from edge.config import load_site
from edge.safety import SafetyService
from simulators.access.osdp_sim import OsdpReaderSim
from tests.drivers.osdp_rig import DOOR, OWNER_CARD, dataset
from tests.edge.linkage.conftest import fire
from tests.edge.test_osdp_daemon import READER, outbox_of, reader_on_pty, until
from tests.edge.test_osdp_daemon import site_file as reader_site
from tests.support.uhppote_rig import Outbox

TZ = ZoneInfo("Asia/Shanghai")


def site_file(tmp: Path, line: Path) -> Path:
    path = reader_site(tmp, line)
    text = path.read_text(encoding="utf-8").replace(
        "egress: true}", 'egress: true,\n       normally_open: [{from: "08:00", to: "09:00"}], '
        "first_card: true}")
    assert "first_card" in text
    path.write_text(text, encoding="utf-8")
    return path


async def _pass(schedule: DoorScheduler) -> None:
    seen = schedule.passes
    schedule.poke()
    await until(lambda: schedule.passes > seen, "a scheduler pass")


def _held(sim: OsdpReaderSim) -> list[int]:
    return [c.fields["control_code"] for c in sim.seen("output")
            if c.fields["control_code"] in (OUTPUT_PERMANENT_ON, OUTPUT_PERMANENT_OFF)]


async def test_first_card_holds_the_reader_door_open_until_the_window_ends(
        tmp_path: Path) -> None:
    # Today (site time) at 07:59: the dataset's cards are valid from a day before now.
    today = dt.datetime.now(TZ).date()
    clock = FakeClock(dt.datetime.combine(today, dt.time(7, 59), tzinfo=TZ).astimezone(dt.UTC))
    async with reader_on_pty(tmp_path) as (line, sim):
        app = EdgeApp(load_site(site_file(tmp_path, line)), clock,
                      uplink_overrides={"backoff_initial": 0.1},
                      reader_options={"offline_after_s": 2.0, "retry_s": 1.0})
        task = asyncio.create_task(app.run())
        try:
            async with asyncio.timeout(15):
                await app.started.wait()
            assert app.readers is not None and app.safety is not None
            schedule = app.safety.schedule
            assert schedule is not None and schedule.doors == [DOOR]
            app.readers.set_credentials(CredentialStore.from_dataset(dataset()))
            bus = app.readers.buses[str(line)]
            await until(lambda: bus.is_online(READER) and bus.is_secure(READER),
                        "reader online")
            await _pass(schedule)
            assert OUTPUT_PERMANENT_ON not in _held(sim)

            clock.advance(90)  # 08:00:30: in the window, waiting for the first card
            await _pass(schedule)
            assert OUTPUT_PERMANENT_ON not in _held(sim)
            await sim.present_card(*OWNER_CARD)
            await sim.wait_command("output", where=lambda c: c.fields["control_code"]
                                   == OUTPUT_PERMANENT_ON)
            await until(lambda: outbox_of(app, Kind.DOOR_MODE_CHANGED), "the change recorded")
            [opened] = await outbox_of(app, Kind.DOOR_MODE_CHANGED)
            assert (opened.device, opened.data["mode"], opened.data["reason"]) == (
                DOOR, "normally_open", "first_card")

            clock.advance(3600)  # 09:00:30: the window is over
            after = len(sim.seen("output"))
            await _pass(schedule)
            await sim.wait_command("output", after=after, where=lambda c: c.fields[
                "control_code"] == OUTPUT_PERMANENT_OFF)
            await until(lambda: _changes(app, 2), "the end recorded")
            assert await _changes(app) == [("normally_open", "first_card"),
                                           ("controlled", "schedule")]
        finally:
            app.request_stop()
            async with asyncio.timeout(20):
                await task


async def _changes(app: EdgeApp, n: int | None = None) -> list[tuple[str, str]] | bool:
    """The door's mode changes in the outbox; with ``n``: whether there are that many."""
    got = [(e.data["mode"], e.data["reason"])
           for e in await outbox_of(app, Kind.DOOR_MODE_CHANGED)]
    return got if n is None else len(got) == n


class FakeLine:
    """A reader line that records what the edge asked of it (``ReaderLine``)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def is_online(self, reader: str) -> bool:
        return True

    async def hold_open(self, reader: str) -> None:
        self.calls.append("hold")

    async def release(self, reader: str) -> None:
        self.calls.append("release")

    async def grant(self, reader: str, pulse_s: float | None = None) -> float:
        self.calls.append("grant")
        return 0.0


async def test_a_fire_reset_in_the_window_leaves_the_reader_door_held_for_its_schedule(
        tmp_path: Path) -> None:
    """Unit level (the reader's line observed): fire during a normally-open window, reset →
    the output stays held for the schedule, and the console may set the door again."""
    text = site_file(tmp_path, tmp_path / "edge.pty").read_text(encoding="utf-8")
    path = tmp_path / "site.yaml"
    path.write_text(text.replace("first_card: true", "first_card: false"), encoding="utf-8")
    config = load_site(path)
    assert config.readers is not None
    line = FakeLine()
    egress = ReaderEgress(config.readers, {READER: line})
    clock = FakeClock(dt.datetime(2026, 12, 7, 8, 30, tzinfo=TZ).astimezone(dt.UTC))
    outbox = Outbox()
    service = SafetyService(config, outbox, clock, reader_doors=egress)
    assert service.schedule is not None and service.linkage is not None
    registry = DoorRegistry()
    registry.register(DOOR, ReaderDoor(egress, DOOR, outbox, clock))
    guard_doors(registry, service.schedule, service.door_held)
    task = asyncio.create_task(service.run())
    try:
        await until(lambda: service.schedule is not None and service.schedule.passes > 0,
                    "first pass")
        assert line.calls == ["hold"]
        [ev] = outbox.of(Kind.DOOR_MODE_CHANGED)
        assert (ev.data["mode"], ev.data["reason"]) == ("normally_open", "schedule")
        await service.emit(fire("1"))
        await service.linkage.wait_idle()
        assert line.calls == ["hold", "hold"] and service.door_held(DOOR)
        door = registry.get(DOOR)
        assert door is not None
        try:
            await door.set_mode(DoorMode.CONTROLLED, by="guard-1", reason="误报")
        except ValueError as exc:
            assert "火警联动" in str(exc)
        else:
            raise AssertionError("a guard locked a door fire linkage holds open")
        result = await service.linkage.reset(by="guard-1", reason="火警已排除")
        assert result["result"] == "ok", result
        assert not service.door_held(DOOR) and egress.linkage_held == set()
        await _pass(service.schedule)  # checked again once linkage let it go: still held
        assert set(line.calls) == {"hold"}, "never released: the window is on"
        assert len(outbox.of(Kind.DOOR_MODE_CHANGED)) == 1, "the reset is linkage's record"
        await door.set_mode(DoorMode.CONTROLLED, by="guard-1", reason="清洁 / cleaning")
        assert line.calls[-1] == "release"
        assert outbox.of(Kind.DOOR_MODE_CHANGED)[-1].data["reason"] == "guard"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
