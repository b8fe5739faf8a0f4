"""Access events in the console's alarm policy: a duress PIN raises a critical alarm even
though the door opened as for any grant; an ordinary grant raises none."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract import Kind
from tests.cloud.test_alarms_ingest import Edge, all_alarms


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
