"""The edge daemon with an OSDP reader on a pty (a simulated reader, libosdp's PD on the
other end): the site file's ``access.readers`` makes the edge enrol the reader with its own
key (kept 0600, never logged), decide a card from the credentials it was handed, release the
door and record ``access.granted`` in the outbox; a fire holds the reader's egress door open
and the reset releases it; a restarted edge still knows who is in (anti-passback); and
``courtyard sim site`` runs the readers a site file lists, each keeping the key it was given.
The console's door.open / door.mode reach a reader door, but never lock one fire holds open."""

from __future__ import annotations

import asyncio
import inspect
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from contract import Envelope, Kind
from contract.commands import DoorMode
from drivers.access.osdp_model import (
    OUTPUT_PERMANENT_OFF,
    OUTPUT_PERMANENT_ON,
    OUTPUT_TEMPORARY_ON,
)
from edge.access.credentials import CredentialStore
from edge.app import EdgeApp
from edge.config import load_site
from simulators.access.osdp_sim import OsdpReaderSim
from simulators.pty import pty_pair
from simulators.site import SiteSimulator
from tests.drivers.osdp_rig import DOOR, OWNER_CARD, dataset
from tests.edge.linkage.conftest import fire
from tests.support.services import free_port

READER, ADDRESS = "r-b1-in", 7


def site_file(tmp: Path, line: Path) -> Path:
    text = f"""\
site: {{id: court-7, name: 七号院, timezone: Asia/Shanghai}}
cloud: {{mqtt_url: "mqtt://127.0.0.1:{free_port()}", username: court-7}}
edge: {{data_dir: {tmp / 'edge'}, health_port: {free_port()}}}
operator: {{port: {free_port()}}}
linkage:
  rules:
    - {{id: fire-any, raise_gates: false, recall_elevators: false}}
access:
  readers:
    - {{id: {READER}, line: {line}, address: {ADDRESS}, door: {DOOR}, building: "1",
       area: b1, direction: in, egress: true}}
"""
    path = tmp / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def until(cond: Callable[[], Any], what: str, within: float = 10.0) -> None:
    """Poll ``cond`` (plain or returning an awaitable) until it is true."""
    try:
        async with asyncio.timeout(within):
            while True:
                got = cond()
                if inspect.isawaitable(got):
                    got = await got
                if got:
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {within} s") from None


@asynccontextmanager
async def edge(site: Path) -> AsyncIterator[EdgeApp]:
    app = EdgeApp(load_site(site), uplink_overrides={"backoff_initial": 0.1},
                  reader_options={"offline_after_s": 2.0, "retry_s": 1.0})
    task = asyncio.create_task(app.run())
    try:
        async with asyncio.timeout(15):
            await app.started.wait()
        assert app.readers is not None
        app.readers.set_credentials(CredentialStore.from_dataset(dataset()))
        bus = app.readers.buses[str(site.parent / "edge.pty")]
        await until(lambda: bus.is_online(READER) and bus.is_secure(READER), "reader online")
        yield app
        assert not task.done(), f"the edge stopped on its own: {task!r}"
    finally:
        app.request_stop()
        async with asyncio.timeout(20):
            await task


async def outbox_of(app: EdgeApp, kind: str) -> list[Envelope]:
    assert app.outbox is not None
    return [e for e in await app.outbox.pending(limit=10_000) if e.kind == kind]


@asynccontextmanager
async def reader_on_pty(tmp: Path) -> AsyncIterator[tuple[Path, OsdpReaderSim]]:
    async with pty_pair(tmp / "edge.pty", tmp / "reader.pty") as (edge_end, reader_end):
        sim = OsdpReaderSim(reader_end, address=ADDRESS, install=True)  # fresh from the box
        await sim.start()
        try:
            yield edge_end, sim
        finally:
            await sim.stop()


async def test_a_card_in_the_credentials_opens_the_door_and_lands_in_the_outbox(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with reader_on_pty(tmp_path) as (line, sim), edge(site_file(tmp_path, line)) as app:
        key_file = tmp_path / "edge" / "osdp-keys" / f"{READER}.scbk"
        await until(key_file.exists, "the enrolled key file")
        key = bytes.fromhex(key_file.read_text().strip())
        assert sim.scbk == key and stat.S_IMODE(key_file.stat().st_mode) == 0o600
        await sim.present_card(*OWNER_CARD)
        out = await sim.wait_command("output")
        assert out.fields["timer_count"] == 30
        await until(lambda: outbox_of(app, Kind.ACCESS_GRANTED), "granted in the outbox")
        [granted] = await outbox_of(app, Kind.ACCESS_GRANTED)
        assert (granted.device, granted.data["holder"], granted.data["reader"]) == (
            DOOR, "owner-1", READER)
        assert app.readers is not None
        assert app.readers.status()["readers"][READER]["enrolled"] is True
    captured = capsys.readouterr()
    assert key.hex() not in captured.out + captured.err


async def test_a_fire_holds_the_readers_egress_door_open_and_reset_releases_it(
        tmp_path: Path) -> None:
    async with reader_on_pty(tmp_path) as (line, sim), edge(site_file(tmp_path, line)) as app:
        assert app.safety is not None and app.safety.linkage is not None
        await app.safety.emit(fire("1"))
        held = await sim.wait_command(
            "output", where=lambda c: c.fields["control_code"] == OUTPUT_PERMANENT_ON)
        assert held.fields["output_no"] == 0
        await until(lambda: outbox_of(app, Kind.LINKAGE_ACTION), "the door action recorded")
        [action] = [e.data for e in await outbox_of(app, Kind.LINKAGE_ACTION)
                    if e.data["action"] == "unlock_doors"]
        assert action["result"] == "ok" and DOOR in action["detail"]
        result = await app.safety.linkage.reset(by="guard-1", reason="火警已排除")
        assert result["result"] == "ok", result
        await sim.wait_command(
            "output", where=lambda c: c.fields["control_code"] == OUTPUT_PERMANENT_OFF)


async def test_a_restarted_edge_still_knows_who_is_in(tmp_path: Path) -> None:
    async with reader_on_pty(tmp_path) as (line, sim):
        site = site_file(tmp_path, line)
        async with edge(site) as app:
            await sim.present_card(*OWNER_CARD)
            await until(lambda: outbox_of(app, Kind.ACCESS_GRANTED), "first entry granted")
            await sim.wait_command("output")
        async with edge(site) as app:  # the reader keeps its key; the edge enforces it
            await sim.present_card(*OWNER_CARD)
            await until(lambda: outbox_of(app, Kind.ACCESS_DENIED), "second entry refused")
            [denied] = await outbox_of(app, Kind.ACCESS_DENIED)
            assert denied.data["reason"] == "anti_passback"
        assert len(sim.seen("output")) == 1


async def test_sim_site_runs_the_listed_reader_which_keeps_the_key_it_was_given(
        tmp_path: Path) -> None:
    site = site_file(tmp_path, tmp_path / "edge.pty")
    state = tmp_path / "sim-state"
    async with SiteSimulator(site, state_dir=state) as sim:
        assert sim.readers is not None and any(READER in s for s in sim.summary())
        async with edge(site):  # enrols the keyless simulated reader
            reader = sim.readers.readers[READER]
            await reader.present_card(*OWNER_CARD)
            await reader.wait_command("output")
    kept = state / "osdp-keys" / f"{READER}.scbk"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert kept.read_text() == (tmp_path / "edge" / "osdp-keys" / f"{READER}.scbk").read_text()
    async with SiteSimulator(site, state_dir=state) as sim, edge(site) as app:
        assert app.readers is not None  # online on the enforced key: the reader kept it
        assert app.readers.status()["readers"][READER]["enrolled"] is True


async def test_the_console_opens_a_reader_door_and_sets_its_mode_but_not_during_a_fire(
        tmp_path: Path) -> None:
    async with reader_on_pty(tmp_path) as (line, sim), edge(site_file(tmp_path, line)) as app:
        door = app.doors.get(DOOR)
        assert door is not None
        detail = await door.open(by="guard-1", reason="住户忘带卡")
        assert DOOR in detail
        pulse = await sim.wait_command("output")
        assert pulse.fields["control_code"] == OUTPUT_TEMPORARY_ON
        await until(lambda: outbox_of(app, Kind.ACCESS_GRANTED), "the remote open recorded")
        [opened] = await outbox_of(app, Kind.ACCESS_GRANTED)
        assert (opened.data["method"], opened.data["credential"]) == ("remote", "remote")
        await door.set_mode(DoorMode.NORMALLY_OPEN, by="guard-1", reason="搬家")
        await sim.wait_command("output", where=lambda c: c.fields["control_code"]
                               == OUTPUT_PERMANENT_ON)
        await door.set_mode(DoorMode.CONTROLLED, by="guard-1", reason="搬完")
        await sim.wait_command("output", where=lambda c: c.fields["control_code"]
                               == OUTPUT_PERMANENT_OFF)
        with pytest.raises(ValueError, match="normally-closed"):
            await door.set_mode(DoorMode.NORMALLY_CLOSED, by="guard-1", reason="x")
        assert app.safety is not None and app.safety.linkage is not None
        await app.safety.emit(fire("1"))
        await sim.wait_command("output", after=2, where=lambda c: c.fields["control_code"]
                               == OUTPUT_PERMANENT_ON)
        with pytest.raises(ValueError, match="fire linkage"):
            await door.set_mode(DoorMode.CONTROLLED, by="guard-1", reason="x")
        assert len(sim.seen("output")) == 4  # pulse, hold, release, the fire's hold
