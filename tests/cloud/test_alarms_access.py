"""Access events in the console's alarm policy: a duress PIN raises a critical alarm even
though the door opened as for any grant, an ordinary grant none; reader tamper and power
faults are major alarms that reader.restored marks restored."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract import Kind
from tests.cloud.test_alarms_ingest import T0, Edge, all_alarms


def access_data(**extra: object) -> dict[str, object]:
    """Shaped like ``edge.access.readers`` records a PIN at an OSDP reader."""
    return {"v": 1, "reader": "r-b1-in", "door": "b1-lobby", "method": "pin",
            "credential": "PIN", "holder": "owner-1", "decide_ms": 0.1,
            "message": "开门 / access granted", **extra}


async def test_a_duress_pin_opens_one_critical_alarm_and_a_grant_none(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    await edge.send(
        edge.event(Kind.ACCESS_GRANTED, access_data(), device="b1-lobby"),
        edge.event(Kind.ACCESS_GRANTED, access_data(), device="b1-lobby"),
        edge.event(Kind.ACCESS_DURESS, access_data(granted=True), device="b1-lobby"))
    alarms = await all_alarms(sessions)
    assert [(a.kind, a.severity, a.device) for a in alarms] == [
        (Kind.ACCESS_DURESS, "critical", "b1-lobby")]


def reader_data(**extra: object) -> dict[str, object]:
    """Shaped like ``drivers.access.osdp`` reports a reader's local status."""
    return {"v": 1, "reader": "r-b1-in", "address": 101, "building": "1",
            "message": "读卡器防拆报警 / card reader tamper", **extra}


async def test_reader_tamper_and_power_open_major_alarms_restored_one_by_one(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    await edge.send(
        edge.event(Kind.READER_TAMPER, reader_data(active=True), device="r-b1-in"),
        edge.event(Kind.READER_POWER_FAULT, reader_data(active=True), device="r-b1-in"),
        edge.event(Kind.READER_TAMPER, reader_data(active=True), device="r-b2-in"))
    later = T0 + timedelta(minutes=2)
    await edge.send(edge.event(Kind.READER_RESTORED,
                               reader_data(active=False, cleared=["tamper"]), later,
                               device="r-b1-in"))
    alarms = await all_alarms(sessions)
    assert {(a.kind, a.severity, a.device, a.restored_at) for a in alarms} == {
        (Kind.READER_TAMPER, "major", "r-b1-in", later),
        (Kind.READER_POWER_FAULT, "major", "r-b1-in", None),
        (Kind.READER_TAMPER, "major", "r-b2-in", None)}
    assert all(a.state == "open" for a in alarms)
