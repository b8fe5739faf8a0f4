"""The edge's ``patrol.*`` events through the real ingestor, on SQLite and PostgreSQL: a
round's events arriving in reverse order (after an outage) and then again (a duplicate batch)
give one round with the right status, start, end and counts and one visit per event; a missed
checkpoint opens one major alarm; a low tag battery opens one work order per tag (repeats fold);
the day's rounds and the live ones read back through the API with each checkpoint's state."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from cloud.alarms.tables import Alarm
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.patrol.tables import PatrolRound, PatrolVisit
from cloud.rules.evaluate import RuleEngine
from cloud.rules.load import default_rules
from cloud.workorders.tables import WorkOrder
from contract import Batch, Envelope, Kind, encode_batch, priority_for, topics
from tests.cloud.patrol.console import T0, Console, P, console
from tests.support.auth import token_headers
from tests.support.epochs import TEST_EPOCH

R1 = "day@2026-12-07T01:00:00Z"  # 09:00 site time
R2 = "day@2026-12-07T02:00:00Z"
KEY = "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949"
OTHER = "eddystone:00112233445566778899:aabbccddeeff"


class Edge:
    """Sends batches as a site's edge does, through the ingestor with the shipped rules."""

    def __init__(self, c: Console) -> None:
        self.seq = 0
        self.ingestor = Ingestor(c.sessions, c.clock,
                                 default_registry(rules=RuleEngine(default_rules(), c.clock)))

    def event(self, kind: str, data: dict[str, Any], at: datetime,
              device: str = "patrol") -> Envelope:
        self.seq += 1
        return Envelope(seq=self.seq, id=str(uuid.uuid4()), ts=at, device=device, kind=kind,
                        data=data, priority=priority_for(kind))

    async def send(self, events: list[Envelope]) -> None:
        payload = encode_batch(Batch(epoch=TEST_EPOCH, site="demo", events=events))
        result = await self.ingestor.handle(topics.up_events("demo"), payload)
        assert result.ok, result


def _round(rid: str, **extra: Any) -> dict[str, Any]:
    return {"plan": "day", "round": rid, "route": "outer",
            "scheduled": rid.split("@")[1], "guard": "zhang", "tag": KEY, **extra}


async def _configure(c: Console) -> dict[str, str]:
    lead = await token_headers(c.sessions, "operations_lead", ["demo"])
    for code, receiver in (("cp-gate", "omg-north"), ("cp-b1", "omg-b1")):
        await c.call("POST", f"{P}/checkpoints", lead, 201,
                     {"code": code, "name": code.upper(), "receiver": receiver})
    await c.call("POST", f"{P}/routes", lead, 201, {
        "code": "outer", "name": "外围", "points": [{"checkpoint": "cp-gate", "offset_s": 0},
                                                    {"checkpoint": "cp-b1", "offset_s": 300}]})
    await c.call("POST", f"{P}/plans", lead, 201, {
        "code": "day", "name": "白班", "route": "outer", "start": "09:00", "end": "12:00",
        "every_s": 3600})
    return lead


async def test_rounds_visits_alarm_and_work_order_from_out_of_order_events(
        db_url: str) -> None:
    async with console(db_url) as c:
        lead = await _configure(c)
        edge = Edge(c)
        m = timedelta(minutes=1)
        t1 = T0 + m
        # Round 1, delivered newest first after an outage: completed, missed, visit, started.
        batch = [
            edge.event(Kind.PATROL_ROUND_COMPLETED, _round(
                R1, on_time=1, late=0, missed=1, out_of_order=0, outcome="incomplete"),
                T0 + 12 * m),
            edge.event(Kind.PATROL_CHECKPOINT_MISSED, {
                "plan": "day", "round": R1, "checkpoint": "cp-b1",
                "deadline": "2026-12-07T01:12:00Z", "guard": "zhang", "escalate_s": 600},
                T0 + 12 * m),
            edge.event(Kind.PATROL_CHECKPOINT, {
                "checkpoint": "cp-gate", "source": "ble", "tag": KEY, "guard": "zhang",
                "receiver": "omg-north", "rssi": -3, "dwell_s": 5.2, "plan": "day",
                "round": R1, "status": "on_time", "due": "2026-12-07T01:00:00Z"},
                t1, device="omg-north"),
            edge.event(Kind.PATROL_ROUND_STARTED, _round(R1), t1),
        ]
        await edge.send(batch)
        await edge.send(batch)  # the same batch again: nothing doubles
        # Round 2 is under way; a tag's battery is low (twice), another tag's once.
        await edge.send([
            edge.event(Kind.PATROL_ROUND_STARTED, _round(R2), T0 + 61 * m),
            edge.event(Kind.PATROL_CHECKPOINT, {
                "checkpoint": "cp-gate", "source": "qr", "guard": "li", "plan": "day",
                "round": R2, "status": "on_time"}, T0 + 61 * m, device="cp-gate"),
            *(edge.event(Kind.PATROL_TAG_BATTERY_LOW, {
                "tag": tag, "battery_mv": 2400, "threshold_mv": 2500}, T0 + 62 * m,
                device=tag) for tag in (KEY, KEY, OTHER))])

        async with c.sessions() as s:
            rounds = (await s.scalars(select(PatrolRound).order_by(PatrolRound.round_id))).all()
            visits = (await s.scalars(select(PatrolVisit).order_by(PatrolVisit.at))).all()
            alarms = (await s.scalars(select(Alarm).order_by(Alarm.id))).all()
            orders = (await s.scalars(select(WorkOrder).order_by(WorkOrder.id))).all()
        r1, r2 = rounds
        assert (r1.round_id, r1.status, r1.started_at, r1.ended_at, r1.route, r1.guard) == (
            R1, "incomplete", t1, T0 + 12 * m, "outer", "zhang")
        assert (r1.on_time, r1.late, r1.missed, r1.out_of_order) == (1, 0, 1, 0)
        assert r1.missed_checkpoints == {"cp-b1": "2026-12-07T01:12:00+00:00"}
        assert (r2.status, r2.ended_at) == ("started", None)
        assert [(v.round_id, v.checkpoint, v.status, v.source, v.rssi) for v in visits] == [
            (R1, "cp-gate", "on_time", "ble", -3), (R2, "cp-gate", "on_time", "qr", None)]
        assert [(a.kind, a.severity, a.count) for a in alarms] == [
            (Kind.PATROL_CHECKPOINT_MISSED, "major", 1)]
        assert [(o.category, o.priority) for o in orders] == [("patrol", "normal")] * 2

        day = await c.call("GET", f"{P}/rounds?date=2026-12-07", lead, 200)
        assert [(r["round"], r["status"]) for r in day["rounds"]] == [
            (R1, "incomplete"), (R2, "started"), ("day@2026-12-07T03:00:00Z", "scheduled")]
        assert [(p["checkpoint"], p["state"]) for p in day["rounds"][0]["checkpoints"]] == [
            ("cp-gate", "on_time"), ("cp-b1", "missed")]
        assert day["rounds"][0]["scheduled_at_local"] == "2026-12-07T09:00:00.000+08:00"
        live = await c.call("GET", f"{P}/rounds/live", lead, 200)
        [r] = live["rounds"]
        assert r["round"] == R2 and [(p["checkpoint"], p["state"], p["due_local"],
                                      p["deadline_local"]) for p in r["checkpoints"]] == [
            ("cp-gate", "on_time", "2026-12-07T10:00:00.000+08:00",
             "2026-12-07T10:07:00.000+08:00"),
            ("cp-b1", "pending", "2026-12-07T10:05:00.000+08:00",
             "2026-12-07T10:12:00.000+08:00")]
        err = await c.call("GET", f"{P}/rounds?date=7.12.2026", lead, 400)
        assert err["error"]["field"] == "date"
