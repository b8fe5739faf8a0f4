"""Patrol at the edge end to end, in-process: a guard's tag heard by an OpenMQTTGateway and an
ESPresense node on a real (private) Mosquitto walks an ordered route, and the round's events
land in a real outbox; the box's own adapter fails here and /healthz says why without the
service stopping; a QR scan command counts or is refused with a reason; a skipped checkpoint
is raised at its deadline. The clock is a FakeClock moved one advert at a time."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from contract import FakeClock, Kind
from contract.commands import Command, CommandKind, new_cmd_id
from contract.envelope import Envelope
from edge.commands.handlers import Targets, handlers
from edge.commands.outcome import CommandRefused
from edge.config.model import (
    CloudLink,
    EdgeSettings,
    PatrolConfig,
    PatrolReceiver,
    SiteConfig,
    SiteInfo,
)
from edge.outbox import AsyncOutbox
from edge.patrol.scan import ScanRefused
from edge.patrol.service import PatrolService
from edge.patrol.store import PatrolStore
from tests.support.services import Mosquitto

TAG = "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949"
IBEACON_HEX = "4c000215426c7565436861726d426561636f6e730efe1355c5"  # PROTOCOLS.md vector 6
ESP_ID = "iBeacon:426c7565-4368-6172-6d42-6561636f6e73-3838-4949"
# 10:00 Asia/Shanghai, a Monday: the plan's round is scheduled then.
T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def dataset(version: int = 1) -> dict[str, Any]:
    def cp(name: str, receiver: str | None, qr: bool = False) -> dict[str, Any]:
        return {"name": name, "building": "", "floor": "", "area": "", "receiver": receiver,
                "qr": qr}
    return {"version": version,
            "checkpoints": {"cp-gate": cp("北门岗亭", "omg-north"),
                            "cp-b1": cp("1号楼大堂", "esp-b1"),
                            "cp-roof": cp("天台", None, qr=True)},
            "routes": {"day": {"name": "白班外围", "ordered": True,
                               "points": [{"checkpoint": "cp-gate", "offset_s": 0},
                                          {"checkpoint": "cp-b1", "offset_s": 300}]},
                       "roof": {"name": "天台", "ordered": False,
                                "points": [{"checkpoint": "cp-roof", "offset_s": 600}]}},
            "plans": {"day-1": {"name": "白班一次", "route": "day", "days": [1, 2, 3, 4, 5, 6, 7],
                                "start": "10:00:00", "end": "11:00:00", "every_s": 0,
                                "start_window_s": 600, "tolerance_s": 120, "late_s": 300,
                                "tolerances": {}, "escalate_s": 600},
                      "roof-1": {"name": "天台检查", "route": "roof", "days": [1, 2, 3, 4, 5, 6, 7],
                                 "start": "10:00:00", "end": "11:00:00", "every_s": 0,
                                 "start_window_s": 600, "tolerance_s": 60, "late_s": 60,
                                 "tolerances": {}, "escalate_s": 600}},
            "tags": {TAG: {"guard": "张保安", "label": "巡更棒 07"}}}


def site(tmp: Path, patrol: PatrolConfig) -> SiteConfig:
    return SiteConfig(path=tmp / "site.yaml", site=SiteInfo("demo", "演示小区"),
                      cloud=CloudLink("mqtt://127.0.0.1:1", "demo", "secret"),
                      edge=EdgeSettings(data_dir=tmp), buses=(), devices=(), patrol=patrol)


@contextlib.asynccontextmanager
async def running(tmp: Path, patrol: PatrolConfig, clock: FakeClock
                  ) -> AsyncIterator[tuple[PatrolService, AsyncOutbox]]:
    store = await PatrolStore.open(tmp)  # the cached dataset, as a previous run left it
    await store.save_dataset(dataset())  # type: ignore[arg-type]
    await store.aclose()
    box = await AsyncOutbox.open(tmp / "outbox.db", clock=clock)
    async with box:
        service = await PatrolService.open(site(tmp, patrol), box.emit, clock,
                                           supervisor_backoff=(0.05, 0.2))
        task = asyncio.create_task(service.run())
        try:
            await until(lambda: service.sync.version == 1)
            yield service, box
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.aclose()


async def until(check: Callable[[], bool], within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def events(box: AsyncOutbox) -> list[Envelope]:
    return await box.pending(limit=10_000)


async def kinds(box: AsyncOutbox) -> list[str]:
    return [e.kind for e in await events(box) if e.kind != Kind.PATROL_TAG_SEEN]


service_events: list[Any] = []


@pytest.fixture(autouse=True)
def _watch_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event a test's outbox takes, as it is emitted (waits need no polling of SQLite)."""
    service_events.clear()
    original = AsyncOutbox.emit

    async def emit(self: AsyncOutbox, event: Any) -> None:
        await original(self, event)
        service_events.append(event)
    monkeypatch.setattr(AsyncOutbox, "emit", emit)


async def dwell(client: aiomqtt.Client, service: PatrolService, clock: FakeClock, topic: str,
                payload: dict[str, Any], visits: int) -> None:
    """One advert a second until presence confirms the visit (each waits for its arrival)."""
    rx = service.site_receivers
    assert rx is not None
    for _ in range(15):
        before = rx.counters.received
        await client.publish(topic, json.dumps(payload).encode())
        await until(lambda n=before: rx.counters.received > n)  # type: ignore[misc]
        if service.presence.stats()["visits"] >= visits:
            return
        clock.advance(1.0)
    raise AssertionError(f"no visit at {topic}: {service.presence.stats()}")


async def test_a_guard_walks_the_route_past_two_receiver_kinds_and_the_round_completes(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    clock = FakeClock(T0 + timedelta(seconds=30))
    patrol = PatrolConfig(receivers=(
        PatrolReceiver("omg-north", "openmqttgateway", "gw-north", -59, 0.0, 0.0),
        PatrolReceiver("esp-b1", "espresense", "b1-lobby", -59, 150.0, 0.0),
        PatrolReceiver("box", "adapter", "hci0", -59, 10.0, 10.0)), broker=mosquitto.url)
    async with running(tmp_path, patrol, clock) as (service, box), aiomqtt.Client(
            mosquitto.host, mosquitto.port) as client:
        rx = service.site_receivers
        assert rx is not None
        await until(lambda: rx.connected)
        await dwell(client, service, clock, "home/gw-north/BTtoMQTT/AABBCCDDEEFF",
                    {"id": "AA:BB:CC:DD:EE:FF", "rssi": -63, "manufacturerdata": IBEACON_HEX},
                    visits=1)
        await until(lambda: Kind.PATROL_CHECKPOINT in [e.kind for e in service_events])
        clock.advance(120)  # the walk to building 1
        await dwell(client, service, clock, f"espresense/devices/{ESP_ID}/b1-lobby",
                    {"id": ESP_ID, "rssi": -61, "rssi@1m": -59, "mac": "aabbccddeeff",
                     "distance": 1.1}, visits=2)
        await until(lambda: Kind.PATROL_ROUND_COMPLETED in [e.kind for e in service_events])
        found = [e for e in await events(box) if e.kind != Kind.PATROL_TAG_SEEN]
        assert [e.kind for e in found] == [
            Kind.PATROL_ROUND_STARTED, Kind.PATROL_CHECKPOINT, Kind.PATROL_CHECKPOINT,
            Kind.PATROL_ROUND_COMPLETED]
        first, second = found[1].data, found[2].data
        assert (first["checkpoint"], first["status"], first["guard"], first["receiver"],
                first["source"]) == ("cp-gate", "on_time", "张保安", "omg-north", "ble")
        assert (second["checkpoint"], second["status"], found[2].device) == (
            "cp-b1", "on_time", "esp-b1")
        assert found[3].data["outcome"] == "complete" and found[3].data["missed"] == 0
        seen = [e for e in await events(box) if e.kind == Kind.PATROL_TAG_SEEN]
        assert {e.data["receiver"] for e in seen} == {"omg-north", "esp-b1"}
        # The box's adapter cannot scan here: backed off, explained, the rest runs on.
        await until(lambda: service.supervisor.states["patrol:adapter:box"].restarts >= 1)
        health = service.status()
        adapter = health["sources"]["patrol:adapter:box"]
        assert "Bluetooth" in str(adapter["last_error"])
        assert health["receivers"]["esp-b1"]["state"] == "heard"
        assert health["receivers"]["omg-north"]["state"] == "silent"  # last heard 2 min ago
        assert health["receivers"]["esp-b1"]["checkpoint"] == "cp-b1"
        assert health["receivers"]["box"]["state"] == "silent"
        assert health["dataset"]["version"] == 1
        assert health["sources"]["patrol:site-broker"]["connected"] is True


async def test_a_qr_scan_counts_and_a_bad_one_is_refused_with_the_reason(
        tmp_path: Path) -> None:
    clock = FakeClock(T0 + timedelta(minutes=5))
    async with running(tmp_path, PatrolConfig(), clock) as (service, box):
        phone = (T0 + timedelta(minutes=4)).astimezone().isoformat()
        detail = await service.scan("cp-roof", "李保安", phone)
        assert "天台" in detail and "recorded" in detail
        [visit] = [e for e in await events(box) if e.kind == Kind.PATROL_CHECKPOINT]
        assert (visit.data["checkpoint"], visit.data["source"], visit.data["guard"]) == (
            "cp-roof", "qr", "李保安")
        assert visit.data["due"] is not None
        again = await service.scan("cp-roof", "李保安", phone)
        assert "already" in again
        refusals = [("cp-nowhere", phone, "not in this site's patrol dataset"),
                    ("cp-roof", "yesterday-ish", "cannot be read"),
                    ("cp-roof", "2026-12-07T10:00:00", "no UTC offset"),
                    ("cp-roof", (T0 - timedelta(days=2)).isoformat(), "more than a day")]
        for checkpoint, at, why in refusals:
            with pytest.raises(ScanRefused) as err:
                await service.scan(checkpoint, "李保安", at)
            assert why in err.value.en and err.value.zh
        assert [e.kind for e in await events(box)].count(Kind.PATROL_CHECKPOINT) == 1


async def test_a_skipped_checkpoint_is_raised_at_its_deadline_and_listed_in_healthz(
        tmp_path: Path) -> None:
    clock = FakeClock(T0 + timedelta(minutes=1))
    async with running(tmp_path, PatrolConfig(), clock) as (service, box):
        await service.scan("cp-gate", "张保安", clock.now().isoformat())  # the round starts
        # Building 1 is due at 10:05, tolerance 120 s, late 300 s: missed from 10:12.
        deadline = T0 + timedelta(minutes=12)
        clock.advance((deadline - clock.now()).total_seconds() - 1)
        await service.tick()
        assert Kind.PATROL_CHECKPOINT_MISSED not in await kinds(box)
        clock.advance(1)
        await service.tick()
        missed = [e for e in await events(box) if e.kind == Kind.PATROL_CHECKPOINT_MISSED]
        assert [m.data["checkpoint"] for m in missed] == ["cp-b1"]
        assert Kind.PATROL_ROUND_MISSED in await kinds(box)  # the roof was never started
        alarms = service.status()["alarms"]["missed_checkpoints_today"]
        assert any("cp-b1" in a for a in alarms)


async def test_the_patrol_scan_command_runs_the_scan_or_replies_refused(tmp_path: Path) -> None:
    clock = FakeClock(T0 + timedelta(minutes=2))
    async with running(tmp_path, PatrolConfig(), clock) as (service, box):
        run = handlers(Targets(patrol_scan=service.scan))[CommandKind.PATROL_SCAN]

        def command(checkpoint: str, at: str) -> Command:
            return Command(new_cmd_id(), CommandKind.PATROL_SCAN, "staff:7",
                           clock.now() + timedelta(minutes=1),
                           {"checkpoint": checkpoint, "guard": "张保安", "at": at})
        detail = await run(command("cp-gate", clock.now().isoformat()))
        assert "北门岗亭" in detail and "on_time" in detail
        with pytest.raises(CommandRefused) as err:
            await run(command("cp-gone", clock.now().isoformat()))
        assert "cp-gone" in err.value.detail
        assert [e.data["checkpoint"] for e in await events(box)
                if e.kind == Kind.PATROL_CHECKPOINT] == ["cp-gate"]
    without = handlers(Targets())[CommandKind.PATROL_SCAN]
    with pytest.raises(CommandRefused, match="no patrol"):
        await without(command("cp-gate", clock.now().isoformat()))
