"""Patrol set-up through the console API on SQLite and PostgreSQL: checkpoints, routes, plans
and tags reach the edge's dataset (only active entries, ETag, 304) with each version
announced; refusals name the field and change nothing; a guard reads but cannot write plans;
a tag's handover history; the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloud.auth.tables import AuditEntry
from tests.cloud.patrol.console import PULL, P, console
from tests.support.auth import create_staff, token_headers

IB = "426c7565-4368-6172-6d42-6561636f6e73"
KEY = f"ibeacon:{IB}:3838:4949"


async def _setup(c: Any, lead: dict[str, str]) -> None:
    await c.call("POST", f"{P}/checkpoints", lead, 201, {
        "code": "cp-gate", "name": "北门岗亭", "area": "北门", "receiver": "omg-north"})
    await c.call("POST", f"{P}/checkpoints", lead, 201, {
        "code": "cp-b1", "name": "1 栋大堂", "building": "1 栋", "floor": "1", "qr": True})
    await c.call("POST", f"{P}/routes", lead, 201, {
        "code": "night", "name": "夜间外围", "ordered": True,
        "points": [{"checkpoint": "cp-gate", "offset_s": 0},
                   {"checkpoint": "cp-b1", "offset_s": 300}]})
    await c.call("POST", f"{P}/plans", lead, 201, {
        "code": "night-2h", "name": "夜班每2小时", "route": "night", "start": "22:00",
        "end": "06:00", "every_s": 7200, "tolerances": {"cp-b1": 300}})


async def test_setup_reaches_the_dataset_with_each_version_announced(db_url: str) -> None:
    async with console(db_url) as c:
        lead = await token_headers(c.sessions, "operations_lead", ["demo"])
        await create_staff(c.sessions, "zhang", "x" * 12, "guard", ["demo"], "张保安")
        await _setup(c, lead)
        tag = await c.call("POST", f"{P}/tags", lead, 201, {
            "tag": f"{IB.replace('-', '').upper()} 3838 4949", "guard": "zhang",
            "label": "巡更棒 07"})
        assert (tag["tag"], tag["guard"], tag["version"]) == (KEY, "zhang", 5)
        assert c.notices.sent == [("demo", "patrol", v) for v in range(1, 6)]

        resp = await c.client.get(f"{P}/dataset", headers=PULL)
        assert resp.status == 200 and resp.headers["ETag"] == '"patrol-5"'
        doc = await resp.json()
        assert doc == {
            "version": 5,
            "checkpoints": {
                "cp-b1": {"name": "1 栋大堂", "building": "1 栋", "floor": "1", "area": "",
                          "receiver": None, "qr": True},
                "cp-gate": {"name": "北门岗亭", "building": "", "floor": "", "area": "北门",
                            "receiver": "omg-north", "qr": False}},
            "routes": {"night": {"name": "夜间外围", "ordered": True, "points": [
                {"checkpoint": "cp-gate", "offset_s": 0},
                {"checkpoint": "cp-b1", "offset_s": 300}]}},
            "plans": {"night-2h": {
                "name": "夜班每2小时", "route": "night", "days": [1, 2, 3, 4, 5, 6, 7],
                "start": "22:00:00", "end": "06:00:00", "every_s": 7200,
                "start_window_s": 600, "tolerance_s": 120, "late_s": 300,
                "tolerances": {"cp-b1": 300}, "escalate_s": 600}},
            "tags": {KEY: {"guard": "zhang", "label": "巡更棒 07"}}}
        again = await c.client.get(f"{P}/dataset", headers={**PULL, "If-None-Match": '"patrol-5"'})
        assert again.status == 304
        bad = await c.client.get(f"{P}/dataset", headers={"Authorization": "Basic eDp5"})
        assert bad.status in (401, 403)

        # A route off: its plan leaves the dataset with it; the checkpoints stay.
        await c.call("PATCH", f"{P}/routes/night", lead, 200, {"active": False})
        doc = await (await c.client.get(f"{P}/dataset", headers=PULL)).json()
        assert doc["version"] == 6 and doc["routes"] == {} and doc["plans"] == {}
        assert set(doc["checkpoints"]) == {"cp-gate", "cp-b1"}

        async with c.sessions() as session:
            audit = (await session.scalars(select(AuditEntry).where(
                AuditEntry.entity.like("patrol_%")).order_by(AuditEntry.id))).all()
        assert [(a.entity, a.action) for a in audit] == [
            ("patrol_checkpoint", "create"), ("patrol_checkpoint", "create"),
            ("patrol_route", "create"), ("patrol_plan", "create"), ("patrol_tag", "create"),
            ("patrol_route", "update")]


async def test_refusals_name_the_field_and_change_nothing(db_url: str) -> None:
    async with console(db_url) as c:
        lead = await token_headers(c.sessions, "operations_lead", ["demo"])
        await _setup(c, lead)
        plan = {"code": "p2", "name": "x", "route": "night", "start": "08:00", "end": "18:00"}
        route = {"code": "r2", "name": "x", "points": [{"checkpoint": "cp-gate", "offset_s": 0}]}
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("checkpoints", {"code": "Bad Code", "name": "x", "qr": True}, "code"),
            ("checkpoints", {"code": "cp-x", "name": "x"}, "receiver"),
            ("checkpoints", {"code": "cp-x", "qr": True}, "name"),
            ("routes", {**route, "points": [{"checkpoint": "cp-nope", "offset_s": 0}]},
             "points[0].checkpoint"),
            ("routes", {**route, "points": [{"checkpoint": "cp-gate", "offset_s": 600},
                                            {"checkpoint": "cp-b1", "offset_s": 300}]},
             "points[1].offset_s"),
            ("routes", {**route, "points": []}, "points"),
            ("plans", {**plan, "route": "nope"}, "route"),
            ("plans", {**plan, "days": [0, 8]}, "days"),
            ("plans", {**plan, "start": "25:00"}, "start"),
            ("plans", {**plan, "end": "8am"}, "end"),
            ("plans", {**plan, "late_s": -1}, "late_s"),
            ("plans", {**plan, "every_s": 1.5}, "every_s"),
            ("plans", {**plan, "tolerances": {"cp-other": 60}}, "tolerances.cp-other"),
            ("plans", {**plan, "extra": 1}, "extra"),
        ]
        for res, body, fld in cases:
            err = await c.call("POST", f"{P}/{res}", lead, 400, body)
            assert err["error"]["field"] == fld, (res, body, err)
        err = await c.call("POST", f"{P}/routes", lead, 409, {**route, "code": "night"})
        assert err["error"]["field"] == "code"
        # One receiver, one checkpoint: the edge would never count the second.
        err = await c.call("POST", f"{P}/checkpoints", lead, 409,
                           {"code": "cp-twin", "name": "x", "receiver": "omg-north"})
        assert err["error"]["field"] == "receiver" and "cp-gate" in err["error"]["message"]
        # A checkpoint on an active route cannot be switched off.
        err = await c.call("PATCH", f"{P}/checkpoints/cp-b1", lead, 409, {"active": False})
        assert err["error"]["field"] == "active"
        err = await c.call("PATCH", f"{P}/plans/nope", lead, 404, {"name": "x"})
        assert err["error"]["field"] == "code"
        err = await c.call("POST", f"{P}/tags", lead, 400, {"tag": "not-a-tag", "guard": "x"})
        assert err["error"]["field"] == "tag"
        err = await c.call("POST", f"{P}/tags", lead, 400, {"tag": KEY, "guard": "nobody"})
        assert err["error"]["field"] == "guard"
        listed = await c.call("GET", f"{P}/plans", lead, 200)
        assert [p["code"] for p in listed["plans"]] == ["night-2h"] and listed["version"] == 4


async def test_roles_a_guard_reads_but_cannot_write_and_site_a_cannot_read_site_b(
        db_url: str) -> None:
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo", "other"])
        await _setup(c, admin)
        guard = await token_headers(c.sessions, "guard", ["demo"])
        listed = await c.call("GET", f"{P}/plans", guard, 200)
        assert [p["code"] for p in listed["plans"]] == ["night-2h"]
        await c.call("PATCH", f"{P}/plans/night-2h", guard, 403, {"every_s": 3600})
        await c.call("POST", f"{P}/checkpoints", guard, 403, {"code": "cp-z", "name": "z",
                                                              "qr": True})
        tech = await token_headers(c.sessions, "technician", ["demo"])
        await c.call("GET", f"{P}/plans", tech, 403)
        other_lead = await token_headers(c.sessions, "operations_lead", ["other"])
        for path in ("plans", "checkpoints", "tags", "rounds", "rounds/live"):
            resp = await c.client.get(f"{P}/{path}", headers=other_lead)
            assert resp.status in (403, 404), path
        resp = await c.client.patch(f"{P}/plans/night-2h", json={"every_s": 60},
                                    headers=other_lead)
        assert resp.status in (403, 404)
        plan = (await c.call("GET", f"{P}/plans", admin, 200))["plans"][0]
        assert plan["every_s"] == 7200


async def test_tag_handover_history_and_retire(db_url: str) -> None:
    async with console(db_url) as c:
        lead = await token_headers(c.sessions, "operations_lead", ["demo"])
        for login, name in (("zhang", "张保安"), ("li", "李保安")):
            await create_staff(c.sessions, login, "x" * 12, "guard", ["demo"], name)
        await create_staff(c.sessions, "far", "x" * 12, "guard", ["other"], "别处保安")
        await create_staff(c.sessions, "cash", "x" * 12, "finance", ["demo"], "收银员")
        # The form offers this site's staff who may carry a tag: not another site's guard,
        # not the cashier; a guard may not list them.
        offered = await c.call("GET", f"{P}/guards", lead, 200)
        assert [(g["login"], g["name"]) for g in offered["guards"]
                if g["role"] == "guard"] == sorted([("li", "李保安"), ("zhang", "张保安")],
                                                   key=lambda x: x[1])
        assert not {"far", "cash"} & {g["login"] for g in offered["guards"]}
        guard = await token_headers(c.sessions, "guard", ["demo"])
        await c.call("GET", f"{P}/guards", guard, 403)
        tag = await c.call("POST", f"{P}/tags", lead, 201, {"tag": KEY, "guard": "zhang"})
        err = await c.call("POST", f"{P}/tags", lead, 409, {"tag": KEY.upper(), "guard": "li"})
        assert err["error"]["field"] == "tag"
        c.clock.advance(3600)
        err = await c.call("POST", f"{P}/tags/{tag['id']}/handover", lead, 400, {"guard": "far"})
        assert err["error"]["field"] == "guard"
        moved = await c.call("POST", f"{P}/tags/{tag['id']}/handover", lead, 200,
                             {"guard": "li", "note": "换班"})
        assert moved["guard"] == "li"
        doc = await (await c.client.get(f"{P}/dataset", headers=PULL)).json()
        assert doc["tags"][KEY]["guard"] == "li"
        hist = await c.call("GET", f"{P}/tags/{tag['id']}/history", lead, 200)
        assert [(h["guard"], h["from"], h["to"], h["note"]) for h in hist["history"]] == [
            ("zhang", "2026-12-07T01:00:00.000Z", "2026-12-07T02:00:00.000Z", None),
            ("li", "2026-12-07T02:00:00.000Z", None, "换班")]
        await c.call("POST", f"{P}/tags/{tag['id']}/retire", lead, 200, {"note": "丢失"})
        await c.call("POST", f"{P}/tags/{tag['id']}/handover", lead, 409, {"guard": "zhang"})
        doc = await (await c.client.get(f"{P}/dataset", headers=PULL)).json()
        assert doc["tags"] == {}
        hist = await c.call("GET", f"{P}/tags/{tag['id']}/history", lead, 200)
        assert hist["state"] == "retired" and hist["history"][-1]["to"] is not None
        again = await c.call("POST", f"{P}/tags", lead, 201, {"tag": KEY, "guard": "zhang"})
        assert again["id"] != tag["id"]
