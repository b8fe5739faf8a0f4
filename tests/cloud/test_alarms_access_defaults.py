"""Access alarm defaults: a door held open is minor, a controller offline major, a reader
offline minor and marked restored when the reader is back online; a controller's offline
alarm is marked restored when the controller is back online."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract import Kind
from tests.cloud.test_alarms_access import reader_data
from tests.cloud.test_alarms_ingest import T0, Edge, all_alarms


async def test_held_open_controller_and_reader_offline_get_their_default_severity(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    await edge.send(
        edge.event(Kind.DOOR_HELD_OPEN, {"door": "1-east", "v": 1}, device="1-east"),
        edge.event(Kind.CONTROLLER_OFFLINE, {"controller": 405419896, "reason": "no_answer"},
                   device="c1"),
        edge.event(Kind.READER_OFFLINE, reader_data(reason="no_answer"), device="r-b1-in"))
    later = T0 + timedelta(minutes=1)
    await edge.send(edge.event(Kind.READER_ONLINE, reader_data(secure=True), later,
                               device="r-b1-in"))
    alarms = await all_alarms(sessions)
    assert {(a.kind, a.severity, a.device, a.restored_at) for a in alarms} == {
        (Kind.DOOR_HELD_OPEN, "minor", "1-east", None),
        (Kind.CONTROLLER_OFFLINE, "major", "c1", None),
        (Kind.READER_OFFLINE, "minor", "r-b1-in", later)}


async def test_a_controller_back_online_marks_its_offline_alarm_restored(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    await edge.send(
        edge.event(Kind.CONTROLLER_OFFLINE, {"controller": 405419896, "reason": "timeout"},
                   device="c1"),
        edge.event(Kind.CONTROLLER_OFFLINE, {"controller": 303986753, "reason": "timeout"},
                   device="c2"))
    later = T0 + timedelta(minutes=2)
    await edge.send(edge.event(Kind.CONTROLLER_ONLINE, {"controller": 405419896}, later,
                               device="c1"))
    alarms = await all_alarms(sessions)
    assert {(a.kind, a.device, a.restored_at) for a in alarms} == {
        (Kind.CONTROLLER_OFFLINE, "c1", later), (Kind.CONTROLLER_OFFLINE, "c2", None)}
