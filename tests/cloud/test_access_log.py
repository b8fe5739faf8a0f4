"""The access log and the door states through the console API, on real SQLite and PostgreSQL,
with the events sent through the real ingest path: keyset paging without gaps or repeats,
each filter, bad filters refused naming the field, the resident's name in full (and audited)
for a role with personal data and masked for one without, and each door's last state, last
person through and open alarms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from cloud.auth.tables import AuditEntry
from cloud.features import default_registry
from cloud.ingest import Ingestor
from contract import Batch, Envelope, SystemClock, encode_batch, priority_for, topics
from tests.cloud.test_access_api import Console, P, _resident, console
from tests.support.auth import token_headers
from tests.support.epochs import TEST_EPOCH

T = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


class Edge:
    def __init__(self, c: Console) -> None:
        self.ingestor = Ingestor(c.sessions, SystemClock(), default_registry())
        self.seq = 0

    def event(self, kind: str, data: dict[str, Any], minutes: int) -> Envelope:
        self.seq += 1
        return Envelope(seq=self.seq, id=str(uuid.uuid4()), ts=T + timedelta(minutes=minutes),
                        device="doors-1", kind=kind, data={"v": 1, **data},
                        priority=priority_for(kind))

    async def send(self, *events: Envelope) -> None:
        result = await self.ingestor.handle(topics.up_events("demo"), encode_batch(
            Batch(epoch=TEST_EPOCH, site="demo", events=list(events))))
        assert result.ok, result


def granted(edge: Edge, rid: int, minutes: int, door: str = "gate-east") -> Envelope:
    return edge.event("access.granted", {"door": door, "credential": "5898564",
                                         "holder": f"resident-{rid}", "method": "card"}, minutes)


async def test_the_log_pages_filters_and_names_holders_by_role(db_url: str) -> None:
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        lead = await token_headers(c.sessions, "operations_lead", ["demo"])
        cs = await token_headers(c.sessions, "customer_service", ["demo"])
        rid = await _resident(c, admin)
        edge = Edge(c)
        await edge.send(*(granted(edge, rid, m) for m in range(4)),
                        edge.event("access.denied", {"door": "b1-lobby", "credential": "777",
                                                     "reason": "unknown_card"}, 10),
                        edge.event("access.granted", {"door": "b1-lobby", "credential": "1",
                                                      "holder": "staff:保安李强"}, 11))

        seen: list[int] = []
        before = ""
        for _ in range(4):
            page = await c.call("GET", f"{P}/log?limit=2{before}", admin, 200)
            seen += [e["id"] for e in page["entries"]]
            if page["next_before_id"] is None:
                break
            before = f"&before_id={page['next_before_id']}"
        assert len(seen) == 6 == len(set(seen)) and seen == sorted(seen, reverse=True)

        newest = (await c.call("GET", f"{P}/log", admin, 200))["entries"]
        assert [(e["result"], e["holder_kind"], e["holder_name"]) for e in newest[:3]] == [
            ("granted", "staff", "保安李强"), ("denied", None, None),
            ("granted", "resident", "王伟")]
        assert (newest[1]["reason"], newest[2]["reason"], newest[2]["unit"]) == (
            "unknown_card", None, "1-101")
        assert newest[2]["ts_local"].startswith("2026-12-07T09:03")  # site time (+08:00)
        async with c.sessions() as session:
            views = (await session.scalars(select(AuditEntry).where(
                AuditEntry.action == "view", AuditEntry.entity == "resident"))).all()
        assert views, "a name shown in full is an audited view"

        masked = (await c.call("GET", f"{P}/log?result=granted&door=gate-east", lead, 200))
        assert {e["holder_name"] for e in masked["entries"]} == {"王*"}
        assert len(masked["entries"]) == 4

        denied = await c.call("GET", f"{P}/log?result=denied", admin, 200)
        assert [e["credential"] for e in denied["entries"]] == ["777"]
        mine = await c.call("GET", f"{P}/log?holder=resident-{rid}", lead, 200)
        assert len(mine["entries"]) == 4
        by_name = await c.call("GET", f"{P}/log?holder=王伟", admin, 200)
        assert len(by_name["entries"]) == 4
        window = await c.call("GET", f"{P}/log?from=2026-12-07T09:01:00%2B08:00"
                                     "&to=2026-12-07T09:03:00%2B08:00", admin, 200)
        assert len(window["entries"]) == 2

        made = await c.call("POST", f"{P}/passes", admin, 201, {
            "visitor_name": "李访客", "unit": "1-101", "valid_from": "2026-12-07T09:00:00+08:00",
            "valid_to": "2026-12-07T18:00:00+08:00", "doors": ["*"], "uses": 2})
        await edge.send(edge.event("access.granted", {
            "door": "gate-east", "credential": made["code"], "holder": f"visitor-{made['id']}",
            "method": "pass"}, 20))
        [shown] = (await c.call("GET", f"{P}/log?holder=visitor-{made['id']}", admin,
                                200))["entries"]
        assert (shown["holder_kind"], shown["holder_name"], shown["unit"]) == (
            "visitor", "李访客", "1-101")
        [hidden] = (await c.call("GET", f"{P}/log?holder=visitor-{made['id']}", lead,
                                 200))["entries"]
        assert hidden["holder_name"] == "李**"

        for query, field in (("result=maybe", "result"), ("from=yesterday", "from"),
                             ("from=2026-12-07T10:00:00Z&to=2026-12-07T09:00:00Z", "to"),
                             ("before_id=x", "before_id"), ("limit=0", "limit"),
                             ("from=2026-12-07T10:00:00", "from")):
            refused = await c.call("GET", f"{P}/log?{query}", admin, 400)
            assert refused["error"]["field"] == field, query
        # A name would reveal who lives here: a role without personal data gives a holder id.
        refused = await c.call("GET", f"{P}/log?holder=王伟", lead, 400)
        assert refused["error"]["field"] == "holder"
        await c.call("GET", f"{P}/log", cs, 403)  # no devices.read
        await c.call("GET", f"{P}/doors", cs, 403)


async def test_each_door_has_its_last_state_last_person_and_open_alarms(db_url: str) -> None:
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        guard = await token_headers(c.sessions, "guard", ["demo"])
        rid = await _resident(c, admin)
        edge = Edge(c)
        await edge.send(granted(edge, rid, 0), granted(edge, rid, 1),
                        edge.event("door.opened", {"door": "gate-east"}, 1),
                        edge.event("door.forced", {"door": "gate-east"}, 5),
                        edge.event("door.opened", {"door": "b1-lobby"}, 6),
                        edge.event("door.closed", {"door": "b1-lobby"}, 7),
                        edge.event("door.mode_changed", {
                            "door": "b1-lobby", "mode": "normally_open", "reason": "schedule",
                            "until": "2026-12-07T10:00:00+00:00"}, 8))
        doors = {d["door"]: d for d in (await c.call("GET", f"{P}/doors", guard, 200))["doors"]}
        assert sorted(doors) == ["b1-lobby", "gate-east"]
        east, lobby = doors["gate-east"], doors["b1-lobby"]
        assert (east["state"], east["open_alarms"]) == ("forced", 1)
        assert east["last_person"]["holder_name"] == "王*"  # a guard reads no personal data
        assert east["last_person"]["ts_local"].startswith("2026-12-07T09:01")
        assert (lobby["state"], lobby["open_alarms"], lobby["last_person"]) == (
            "closed", 0, None)
        assert (lobby["mode"]["mode"], lobby["mode"]["reason"], east["mode"]) == (
            "normally_open", "schedule", None)
        # The guard-room screen polls: names stay masked for every role, and no view is
        # audited every few seconds (the log is where a person is looked up).
        shown = await c.call("GET", f"{P}/doors", admin, 200)
        [east] = [d for d in shown["doors"] if d["door"] == "gate-east"]
        assert east["last_person"]["holder_name"] == "王*"
        async with c.sessions() as session:
            assert (await session.scalars(select(AuditEntry).where(
                AuditEntry.action == "view"))).all() == []
