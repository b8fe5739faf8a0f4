"""Alarm events become alarms through the real ingest path, on SQLite and PostgreSQL: one
alarm per condition however often it repeats or is redelivered, restores recorded (never
closing), and the edge's linkage reports attached to the alarm of the event that caused them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.lifecycle import act
from cloud.alarms.policy import ACTIVE_STATES
from cloud.alarms.tables import ALARM_ACTIVE_WHERE, Alarm, AlarmAction, AlarmEvent, AlarmLinkage
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.ingest.result import IngestResult
from contract import Batch, Envelope, FakeClock, encode_batch, priority_for, topics
from drivers.fire.appdata import decode_app_data
from drivers.fire.codec import parse_frame
from drivers.fire.events import EventMapper
from drivers.fire.model import UitdConfig, ZoneLocation
from tests.support.epochs import TEST_EPOCH

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

#: docs/protocols.md test vector 1: a point photoelectric smoke detector reports fire (system 1,
#: component type 40 at zone 10 position 2).
VECTOR_1 = bytes.fromhex(
    "40 40 01 00 01 01 20 3A 09 1A 09 0C 79 03 00 00 00 00 38 5B 01 00 00 00 30 00 02 02 01 01"
    " 01 28 0A 00 02 00 02 00" + " 20" * 30 + " 00 02 3A 09 1A 09 0C 46 23 23")


def fire_data(kind: str = "fire.alarm", *, zone: int = 10, position: int = 2,
              system_address: int = 1, uitd: str = "uitd-1", **extra: Any) -> dict[str, Any]:
    """Event data shaped like ``drivers.fire.events`` makes it for a component."""
    condition = {"fire.alarm": "fire", "fire.fault": "fault", "fire.shielded": "shielded",
                 "fire.supervisory": "supervisory",
                 "fire.power_fault": "power_fault"}.get(kind)
    data: dict[str, Any] = {
        "v": 1, "uitd": uitd, "serial": 7, "scope": "component", "event_time": None,
        "system_type": 1, "system_type_name": {"zh": "火灾报警系统", "en": "fire alarm system"},
        "system_address": system_address, "component_type": 42,
        "component_type_name": {"zh": "点型光电感烟火灾探测器",
                                "en": "point photoelectric smoke detector"},
        "zone": zone, "position": position, "component_address": zone * 65536 + position,
        "status": 2, "states": [condition] if condition else [], "test_mode": False,
        "description": "东侧走廊烟感",
        "location": {"building": "1栋", "floor": "3层", "area": "东侧走廊"},
        "location_text": "1栋 3层 东侧走廊",
    }
    if condition:
        data |= {"condition": condition, "repeat": False, "cleared": [],
                 "message": f"{condition}：1栋 3层 东侧走廊 / {condition}: building 1"}
    return data | extra


def elevator_data(**extra: Any) -> dict[str, Any]:
    """Event data shaped like ``drivers.elevator.monitor`` makes it."""
    return {"v": 1, "building": "2", "name": "2号梯", "floor": 5, **extra}


@dataclass
class Edge:
    """Sends batches the way a site's edge does, through the real ingestor."""

    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock = field(default_factory=lambda: FakeClock(T0))
    site: str = "demo"
    seq: int = 0
    ingestor: Ingestor = field(init=False)

    def __post_init__(self) -> None:
        self.ingestor = Ingestor(self.sessions, self.clock, default_registry())

    def event(self, kind: str, data: dict[str, Any], ts: datetime | None = None,
              device: str = "uitd-1", event_id: str | None = None) -> Envelope:
        self.seq += 1
        return Envelope(seq=self.seq, id=event_id or str(uuid.uuid4()), ts=ts or self.clock.now(),
                        device=device, kind=kind, data=data, priority=priority_for(kind))

    def payload(self, *events: Envelope) -> bytes:
        return encode_batch(Batch(epoch=TEST_EPOCH, site=self.site, events=list(events)))

    async def send(self, *events: Envelope) -> IngestResult:
        result = await self.ingestor.handle(topics.up_events(self.site), self.payload(*events))
        assert result.ok, result
        return result


async def all_alarms(sessions: async_sessionmaker[AsyncSession]) -> list[Alarm]:
    async with sessions() as s:
        return list((await s.scalars(select(Alarm).order_by(Alarm.id))).all())


async def rows(sessions: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_the_uitd_frame_opens_one_critical_alarm_with_its_place_exactly_once(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    frame = parse_frame(VECTOR_1)
    app = decode_app_data(frame.data)
    assert app is not None
    uitd = UitdConfig(id="uitd-1", address=889, locations=(
        ZoneLocation("1栋", "3层", "东侧走廊", system_type=1, system_address=1, zone=10),))
    mapped = EventMapper(uitd, ZoneInfo("Asia/Shanghai")).events(app, frame.serial, T0)
    envelopes = [edge.event(e.kind, e.data, e.ts, e.device) for e in mapped]
    assert "fire.alarm" in [e.kind for e in envelopes]
    first = await edge.send(*envelopes)
    assert first.inserted == len(envelopes)

    [alarm] = await all_alarms(sessions)
    assert (alarm.kind, alarm.severity, alarm.state, alarm.count) == (
        "fire.alarm", "critical", "open", 1)
    assert alarm.location == {"building": "1栋", "floor": "3层", "area": "东侧走廊"}
    assert alarm.location_text == "1栋 3层 东侧走廊"
    assert alarm.device == "uitd-1" and (alarm.title_zh, alarm.title_en) == ("火警", "Fire alarm")
    assert alarm.evidence["zone"] == 10 and alarm.evidence["position"] == 2
    assert alarm.evidence["component_type"] == 40
    fire_event = next(e for e in envelopes if e.kind == "fire.alarm")
    assert alarm.event_uuid == fire_event.id
    assert alarm.first_ts == fire_event.ts

    again = await edge.ingestor.handle(topics.up_events("demo"), edge.payload(*envelopes))
    assert again.inserted == 0 and again.duplicates == len(envelopes)
    [same] = await all_alarms(sessions)
    assert same.count == 1 and same.updated_at == alarm.updated_at
    assert await rows(sessions, AlarmEvent) == 1
    assert await rows(sessions, AlarmAction) == 1  # "opened"


async def test_repeats_of_one_condition_fold_into_one_alarm(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    repeats = [edge.event("fire.alarm", fire_data(repeat=i > 0), T0 + timedelta(seconds=10 * i))
               for i in range(5)]
    await edge.send(*repeats[:2])
    await edge.send(*repeats[2:])
    # Other conditions are other alarms: another detector, and a fault of the same one.
    await edge.send(edge.event("fire.alarm", fire_data(zone=11)),
                    edge.event("fire.fault", fire_data("fire.fault")))
    alarms = await all_alarms(sessions)
    assert [(a.kind, a.evidence["zone"], a.count) for a in alarms] == [
        ("fire.alarm", 10, 5), ("fire.alarm", 11, 1), ("fire.fault", 10, 1)]
    folded = alarms[0]
    assert (folded.first_ts, folded.last_ts) == (T0, T0 + timedelta(seconds=40))
    assert folded.event_uuid == repeats[0].id
    assert alarms[2].severity == "major"
    assert await rows(sessions, AlarmEvent) == 7


async def test_a_repeat_after_the_alarm_was_resolved_opens_a_new_one(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    await edge.send(edge.event("fire.alarm", fire_data()))
    [first] = await all_alarms(sessions)
    await act(sessions, first.id, "false_alarm", "guard-1", "厨房油烟", T0)
    edge.clock.advance(60)
    await edge.send(edge.event("fire.alarm", fire_data()))
    alarms = await all_alarms(sessions)
    assert [(a.state, a.count) for a in alarms] == [("false_alarm", 1), ("open", 1)]


async def test_elevator_alarms_take_their_severity_from_the_event(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    await edge.send(
        edge.event("elevator.trapped", elevator_data(reason="stopped_outside_door_zone",
                                                     people=True), device="elevator-2"),
        edge.event("elevator.fault", elevator_data(code=5, key="overspeed", severity="critical"),
                   device="elevator-2"),
        edge.event("elevator.fault", elevator_data(code=11, key="door_close_fault"),
                   device="elevator-2"),
        edge.event("elevator.fault", elevator_data(code=14, key="fire_return", severity="info"),
                   device="elevator-2"),
        edge.event("elevator.fault", elevator_data(code=5, key="overspeed", severity="critical"),
                   device="elevator-2"))
    alarms = await all_alarms(sessions)
    assert [(a.kind, a.severity, a.count) for a in alarms] == [
        ("elevator.trapped", "critical", 1), ("elevator.fault", "critical", 2),
        ("elevator.fault", "major", 1)]  # "info" (fire return) opens none
    trapped = alarms[0]
    assert trapped.location == {"building": "2", "floor": 5, "area": None}
    assert trapped.location_text == "2栋 5层"
    assert trapped.evidence["reason"] == "stopped_outside_door_zone"


async def test_restores_are_recorded_on_the_matching_alarm_without_closing_it(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    await edge.send(edge.event("fire.alarm", fire_data()),
                    edge.event("fire.fault", fire_data("fire.fault")),
                    edge.event("fire.alarm", fire_data(zone=11)),
                    edge.event("elevator.fault", elevator_data(code=5, key="overspeed"),
                               device="elevator-2"),
                    edge.event("elevator.fault", elevator_data(code=11, key="door_close_fault"),
                               device="elevator-2"),
                    edge.event("elevator.trapped", elevator_data(reason="fault_code", code=1),
                               device="elevator-2"))
    later = T0 + timedelta(minutes=3)
    await edge.send(
        edge.event("fire.restored", fire_data("fire.restored", cleared=["fire"]), later),
        edge.event("elevator.recovered", elevator_data(cleared="fault", code=5, key="overspeed"),
                   later, device="elevator-2"))
    restored = {(a.kind, a.evidence.get("zone"), a.evidence.get("key")): a.restored_at
                for a in await all_alarms(sessions)}
    assert restored == {
        ("fire.alarm", 10, None): later,       # the fire of that detector cleared
        ("fire.fault", 10, None): None,        # its fault did not
        ("fire.alarm", 11, None): None,        # another detector
        ("elevator.fault", None, "overspeed"): later,
        ("elevator.fault", None, "door_close_fault"): None,
        ("elevator.trapped", None, None): None,
    }
    assert all(a.state == "open" for a in await all_alarms(sessions))

    # A detector that comes back after its restore is no longer "restored".
    await edge.send(edge.event("fire.alarm", fire_data(), later + timedelta(seconds=5)))
    [fire] = [a for a in await all_alarms(sessions)
              if a.kind == "fire.alarm" and a.evidence["zone"] == 10]
    assert fire.count == 2 and fire.restored_at is None


async def test_linkage_reports_attach_to_the_alarm_of_their_cause_in_any_order(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    edge = Edge(sessions)
    cause, repeat, late_cause = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())

    def action(cause_id: str, what: str, target: str, result: str) -> Envelope:
        return edge.event("linkage.action", {
            "v": 1, "incident": "inc-1", "rule": "fire-building", "cause_event": cause_id,
            "cause_kind": "fire.alarm", "action": what, "target": target, "building": "1",
            "result": result, "detail": "门禁驱动未接入 / no access driver", "attempts": 1},
            device="edge")

    # One batch: the alarm, then what the edge did about it.
    await edge.send(edge.event("fire.alarm", fire_data(), event_id=cause),
                    edge.event("linkage.triggered", {
                        "v": 1, "incident": "inc-1", "rule": "fire-building",
                        "cause_event": cause, "building": "1", "actions": ["raise_gate"],
                        "message": "火警联动启动 / fire linkage triggered"}, device="edge"),
                    action(cause, "raise_gate", "gate-exit", "ok"))
    # A repeat of the same fire causes more linkage: it belongs to the same alarm.
    await edge.send(edge.event("fire.alarm", fire_data(), event_id=repeat),
                    action(repeat, "recall_elevator", "elevator-1", "failed"))
    # After an outage the report may come before its cause.
    await edge.send(action(late_cause, "unlock_doors", "1", "noop"))
    async with sessions() as s:
        waiting = (await s.scalars(select(AlarmLinkage).where(
            AlarmLinkage.cause_uuid == late_cause))).one()
    assert waiting.alarm_id is None
    await edge.send(edge.event("fire.alarm", fire_data(zone=12), event_id=late_cause))

    first, other = await all_alarms(sessions)
    async with sessions() as s:
        links = (await s.scalars(select(AlarmLinkage).order_by(AlarmLinkage.seq))).all()
    assert [(link.alarm_id, link.kind, link.action, link.target, link.result)
            for link in links] == [
        (first.id, "linkage.triggered", None, None, None),
        (first.id, "linkage.action", "raise_gate", "gate-exit", "ok"),
        (first.id, "linkage.action", "recall_elevator", "elevator-1", "failed"),
        (other.id, "linkage.action", "unlock_doors", "1", "noop"),
    ]
    assert links[1].detail == "门禁驱动未接入 / no access driver"


def test_the_active_states_of_the_policy_are_the_indexed_ones() -> None:
    """The partial unique index (one active alarm per condition) must cover exactly the
    states the handlers fold into."""
    assert ALARM_ACTIVE_WHERE == "state IN ({})".format(
        ", ".join(f"'{s}'" for s in ACTIVE_STATES))
