"""Access credentials through the console API, on real SQLite and PostgreSQL: issuing to a
resident or a staff member, refusals that name the field (card number, holder, overlapping
windows, validity), revocation, permissions, the audit trail, the version bump with its
``down/sync`` notice after the commit, and the edge's pull (site credential, ETag, 304)."""

from __future__ import annotations

import base64
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from cloud.auth.tables import AuditEntry
from edge.access.credentials import CredentialStore
from tests.support.auth import token_headers
from tests.support.console_app import DEMO_PULL, DEMO_SECRET, Console, demo_console

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
P = "/api/sites/demo/access"
SECRET, PULL = DEMO_SECRET, DEMO_PULL


def console(db_url: str) -> AbstractAsyncContextManager[Console]:
    return demo_console(db_url, T0)


async def _resident(c: Console, admin: dict[str, str]) -> int:
    await c.call("POST", "/api/buildings", admin, 201, {"site": "demo", "code": "B1",
                                                         "name": "1 栋"})
    await c.call("POST", "/api/units", admin, 201, {"site": "demo", "code": "1-101",
                                                     "building": "B1", "area": "88.00",
                                                     "unit_type": "residential"})
    owner = await c.call("POST", "/api/owners", admin, 201, {"site": "demo", "unit": "1-101",
                                                              "name": "王伟"})
    return int(owner["id"])


async def test_cards_and_profiles_reach_the_dataset_with_each_version_announced(
        db_url: str) -> None:
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        cs = await token_headers(c.sessions, "customer_service", ["demo"])
        rid = await _resident(c, admin)
        day = {"windows": [{"days": [1, 2, 3, 4, 5], "from": "07:00", "to": "22:00"},
                           {"days": [6, 7], "from": "22:00", "to": "06:00"}]}
        prof = await c.call("PUT", f"{P}/profiles/day", cs, 200, day)
        assert prof["version"] == 1 and prof["windows"] == day["windows"]
        card = await c.call("POST", f"{P}/cards", cs, 201, {
            "number": "5898564", "resident_id": rid, "doors": ["b1-lobby", "gate-east"],
            "profile": "day", "valid_from": "2026-12-01", "valid_to": "2027-11-30"})
        assert (card["holder"], card["state"], card["version"]) == (
            f"resident-{rid}", "active", 2)
        staff = await c.call("POST", f"{P}/cards", cs, 201, {
            "number": 4294967296, "staff_name": "保安李强", "doors": ["*"]})
        assert c.notices.sent == [("demo", "access", 1), ("demo", "access", 2),
                                  ("demo", "access", 3)]
        revoked = await c.call("POST", f"{P}/cards/{staff['id']}/revoke", cs, 200,
                               {"reason": "离职"})
        assert (revoked["state"], revoked["revoked_reason"], revoked["version"]) == (
            "revoked", "离职", 4)
        await c.call("POST", f"{P}/cards/{staff['id']}/revoke", cs, 409, {"reason": "x"})
        listed = await c.call("GET", f"{P}/cards?state=active", cs, 200)
        assert [x["number"] for x in listed["cards"]] == ["5898564"]
        assert listed["version"] == 4

        resp = await c.client.get(f"{P}/dataset", headers=PULL)
        assert resp.status == 200 and resp.headers["ETag"] == '"access-4"'
        doc = await resp.json()
        assert doc["version"] == 4 and doc["blocked"] == ["4294967296"]
        assert doc["cards"] == {"5898564": {
            "holder": f"resident-{rid}", "doors": ["b1-lobby", "gate-east"], "profile": "day",
            "valid_from": "2026-11-30T16:00:00+00:00",
            "valid_to": "2027-11-30T15:59:59.999999+00:00"}}
        assert doc["time_profiles"] == {"day": day["windows"]}
        store = CredentialStore.from_dataset(doc)  # the edge's reader accepts it as it is
        assert store.card("5898564") is not None and store.is_blocked("4294967296")
        again = await c.client.get(f"{P}/dataset", headers={**PULL, "If-None-Match": '"access-4"'})
        assert again.status == 304

        async with c.sessions() as session:
            audit = (await session.scalars(select(AuditEntry).where(
                AuditEntry.entity.in_(("access_card", "access_profile")))
                .order_by(AuditEntry.id))).all()
        assert [(a.entity, a.action) for a in audit] == [
            ("access_profile", "create"), ("access_card", "create"),
            ("access_card", "create"), ("access_card", "revoke")]


async def test_refusals_name_the_field_and_change_nothing(db_url: str) -> None:
    async with console(db_url) as c:
        cs = await token_headers(c.sessions, "customer_service", ["demo"])
        ok = {"number": "100", "staff_name": "张三", "doors": ["*"]}
        cases: list[tuple[dict[str, Any], str]] = [
            ({**ok, "number": "0"}, "number"), ({**ok, "number": "12a"}, "number"),
            ({**ok, "number": str(2**32 + 1)}, "number"), ({**ok, "number": -5}, "number"),
            ({**ok, "doors": []}, "doors"), ({**ok, "staff_name": None}, "resident_id"),
            ({**ok, "resident_id": 3}, "resident_id"), ({**ok, "profile": "night"}, "profile"),
            ({**ok, "valid_from": "2026-12-10", "valid_to": "2026-12-01"}, "valid_to"),
            ({**ok, "valid_from": "2026-12-10T08:00:00"}, "valid_from"),
            ({**ok, "by": "someone"}, "by")]
        for body, name in cases:
            body = {k: v for k, v in body.items() if v is not None}
            err = await c.call("POST", f"{P}/cards", cs, 400, body)
            assert err["error"]["field"] == name, (body, err)
        overlap = {"windows": [{"days": [1], "from": "07:00", "to": "12:00"},
                               {"days": [1, 2], "from": "11:00", "to": "13:00"}]}
        err = await c.call("PUT", f"{P}/profiles/day", cs, 400, overlap)
        assert err["error"]["field"] == "windows[1]"
        night = {"windows": [{"days": [1], "from": "22:00", "to": "06:00"},
                             {"days": [2], "from": "05:00", "to": "07:00"}]}
        err = await c.call("PUT", f"{P}/profiles/night", cs, 400, night)
        assert err["error"]["field"] == "windows[1]"  # Monday's night runs into Tuesday
        await c.call("POST", f"{P}/cards", cs, 201, ok)
        err = await c.call("POST", f"{P}/cards", cs, 409, ok)
        assert err["error"]["field"] == "number"
        assert c.notices.sent == [("demo", "access", 1)]  # refused writes bump nothing
        resp = await c.client.get(f"{P}/dataset", headers=PULL)
        assert (await resp.json())["version"] == 1


async def test_permissions_and_the_site_credential(sqlite_url: str) -> None:
    async with console(sqlite_url) as c:
        body = {"number": "100", "staff_name": "张三", "doors": ["*"]}
        for role, read, write in (("customer_service", 200, 201), ("guard", 403, 403),
                                  ("technician", 200, 403), ("finance", 200, 403)):
            who = await token_headers(c.sessions, role, ["demo"])
            await c.call("GET", f"{P}/cards", who, read)
            await c.call("POST", f"{P}/cards", who, write, {**body, "number": f"{len(role)}0"})
        bad = {"Authorization": "Basic " + base64.b64encode(b"demo:wrong").decode()}
        assert (await c.client.get(f"{P}/dataset", headers=bad)).status == 401
        assert (await c.client.get(f"{P}/dataset")).status == 401
        staff = await token_headers(c.sessions, "admin", ["demo"])
        assert (await c.client.get(f"{P}/dataset", headers=staff)).status == 401


async def test_a_resident_moving_out_loses_their_cards(db_url: str) -> None:
    """Through the records API: a move-out dated later ends the card's validity that day; one
    dated today revokes it. Each bumps the access version, announced after the commit."""
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        rid = await _resident(c, admin)
        card = await c.call("POST", f"{P}/cards", admin, 201, {
            "number": "5898564", "resident_id": rid, "doors": ["*"]})
        await c.call("PATCH", f"/api/owners/{rid}", admin, 200, {"move_out": "2026-12-20"})
        [later] = (await c.call("GET", f"{P}/cards", admin, 200))["cards"]
        assert (later["state"], later["valid_to"]) == ("active", "2026-12-20T16:00:00.000Z")
        assert c.notices.sent[-1] == ("demo", "access", 2)
        # Moved out today instead (T0 is 2026-12-07 09:00 in Shanghai).
        await c.call("PATCH", f"/api/owners/{rid}", admin, 200, {"move_out": None})
        await c.call("PATCH", f"/api/owners/{rid}", admin, 200, {"move_out": "2026-12-07"})
        [gone] = (await c.call("GET", f"{P}/cards", admin, 200))["cards"]
        assert (gone["id"], gone["state"]) == (card["id"], "revoked")
        assert gone["revoked_reason"].startswith("住户迁出")
        assert c.notices.sent[-1] == ("demo", "access", 3)
        resp = await c.client.get(f"{P}/dataset", headers=PULL)
        doc = await resp.json()
        assert doc["cards"] == {} and doc["blocked"] == ["5898564"]
