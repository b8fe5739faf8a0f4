"""Visitor passes through the console API on real PostgreSQL: issuing (token, code, QR), each
refusal naming its field, the list by state, revocation reaching the dataset, the QR image
decoding back to the token, the uses counted from the edge's events, and who may do it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
from sqlalchemy import select

from cloud.access.tables import AccessPass
from cloud.auth.tables import AuditEntry
from cloud.ingest.handlers import HandlerContext, StoredEvent
from cloud.web.keys import SITE_CREDENTIALS
from contract.visitor_pass import PassClaims, verify
from edge.access.credentials import CredentialStore
from tests.cloud.test_access_api import PULL, SECRET, T0, _resident, console
from tests.support.auth import token_headers

P = "/api/sites/demo/access/passes"
NOW = int(T0.timestamp())


def _body(**over: Any) -> dict[str, Any]:
    return {"visitor_name": "访客张三", "unit": "1-101", "valid_from": "2026-12-07T10:00:00+08:00",
            "valid_to": "2026-12-08T10:00:00+08:00", "doors": ["b1-lobby", "gate-n"],
            "uses": 2, **over}


def _modules(svg: str) -> np.ndarray:
    """The dark modules of segno's SVG path (``M x y``, ``h n``, ``m dx dy``) as an image."""
    size = int(re.search(r'width="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    scale = int(re.search(r"scale\((\d+)\)", svg).group(1))  # type: ignore[union-attr]
    n = size // scale
    grid = np.full((n, n), 255, dtype=np.uint8)
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?",
                               re.search(r' d="([^"]+)"', svg).group(1)):  # type: ignore[union-attr]
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            grid[int(y), int(x):int(x) + int(float(a))] = 0
            x += float(a)
    return np.kron(grid, np.ones((8, 8), dtype=np.uint8))


def _decode(svg: str) -> str:
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(_modules(svg))
    return str(text)


async def test_a_pass_is_issued_listed_rendered_and_revoked_into_the_dataset(
        db_url: str) -> None:
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        guard = await token_headers(c.sessions, "guard", ["demo"])
        await _resident(c, admin)
        made = await c.call("POST", P, guard, 201, _body())
        assert made["qr"] == f"{P}/{made['id']}/qr.svg"
        assert re.fullmatch(r"[1-9]\d{8}", made["code"])
        assert (made["state"], made["uses"], made["uses_left"], made["unit"]) == (
            "active", 2, 2, "1-101")
        assert made["valid_from"] == "2026-12-07T02:00:00.000Z"
        assert made["valid_from_local"].startswith("2026-12-07T10:00:00")
        assert made["version"] == 1 and c.notices.sent == [("demo", "access", 1)]
        assert len(made["token"]) <= 200
        claims = verify(SECRET, made["token"], "demo", NOW + 3600)
        assert claims == PassClaims(made["id"], "demo", ("b1-lobby", "gate-n"),
                                    NOW + 3600, NOW + 3600 + 86400, 2)

        resp = await c.client.get(made["qr"], headers=guard)
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        assert resp.headers["Cache-Control"] == "no-store"
        assert _decode(await resp.text()) == made["token"]  # signed again: the same token

        doc = await (await c.client.get("/api/sites/demo/access/dataset", headers=PULL)).json()
        assert doc["passes"] == {made["code"]: {
            "id": made["id"], "doors": ["b1-lobby", "gate-n"], "uses": 2,
            "valid_from": "2026-12-07T02:00:00+00:00", "valid_to": "2026-12-08T02:00:00+00:00"}}
        assert doc["passes_revoked"] == []
        CredentialStore.from_dataset(doc)  # the edge takes it as it is

        second = await c.call("POST", P, admin, 201, _body(visitor_name="快递", uses=1,
                                                           doors=["*"]))
        assert second["code"] != made["code"]
        listed = await c.call("GET", f"{P}?state=active", guard, 200)
        assert [p["id"] for p in listed["passes"]] == [second["id"], made["id"]]
        assert "phone" not in listed["passes"][0]

        gone = await c.call("POST", f"{P}/{made['id']}/revoke", guard, 200, {"reason": "业主取消"})
        assert (gone["state"], gone["revoked_reason"], gone["version"]) == (
            "revoked", "业主取消", 3)
        await c.call("POST", f"{P}/{made['id']}/revoke", guard, 409, {"reason": "again"})
        doc = await (await c.client.get("/api/sites/demo/access/dataset", headers=PULL)).json()
        assert list(doc["passes"]) == [second["code"]]
        assert doc["passes_revoked"] == [made["id"]]
        revoked = await c.call("GET", f"{P}?state=revoked", guard, 200)
        assert [p["id"] for p in revoked["passes"]] == [made["id"]]
        assert (await c.call("GET", f"{P}?state=expired", guard, 200))["passes"] == []
        await c.call("GET", f"{P}?state=used", guard, 400)
        await c.call("GET", f"{P}/999/qr.svg", guard, 404)

        async with c.sessions() as session:
            audit = (await session.scalars(select(AuditEntry).where(
                AuditEntry.entity == "access_pass").order_by(AuditEntry.id))).all()
            row = await session.get(AccessPass, made["id"])
        assert [a.action for a in audit] == ["create", "create", "revoke"]
        assert all("访客" not in str(a.after) for a in audit)  # no visitor name in the audit
        assert row is not None and row.issued_by != "" and row.used == 0


async def test_refusals_name_the_field_and_change_nothing(db_url: str) -> None:
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        await _resident(c, admin)
        cases: list[tuple[dict[str, Any], str]] = [
            (_body(valid_to="2026-12-06T10:00:00+08:00", valid_from=None), "valid_to"),
            (_body(valid_to="2026-12-07T09:00:00+08:00"), "valid_to"),     # before valid_from
            (_body(valid_to="2026-12-14T10:00:01+08:00"), "valid_to"),     # over 7 days
            (_body(valid_to=None), "valid_to"),
            (_body(valid_from="2026-12-07T10:00:00"), "valid_from"),       # no offset
            (_body(uses=0), "uses"), (_body(uses=51), "uses"), (_body(uses="2"), "uses"),
            (_body(doors=[]), "doors"), (_body(doors=None), "doors"),
            (_body(doors=["大堂"]), "doors"), (_body(valid_from="0001-01-01T00:00:00+08:00"),
                                              "valid_from"),
            (_body(doors=[f"door-number-{i:02d}" for i in range(12)]), "doors"),  # QR too long
            (_body(unit="9-909"), "unit"), (_body(unit=None), "unit"),
            (_body(visitor_name=""), "visitor_name"), (_body(visitor_name="长" * 65),
                                                       "visitor_name"),
            (_body(phone="13800000000"), "phone"), (_body(issued_by="someone"), "issued_by")]
        for body, name in cases:
            body = {k: v for k, v in body.items() if v is not None}
            err = await c.call("POST", P, admin, 400, body)
            assert err["error"]["field"] == name, (body, err)
            assert " / " not in err["error"]["field"]
        assert c.notices.sent == []                        # refused writes bump nothing
        async with c.sessions() as session:
            assert (await session.scalars(select(AccessPass))).all() == []
        # A window that opened earlier today but has not ended is fine.
        await c.call("POST", P, admin, 201, _body(valid_from="2026-12-07T08:00:00+08:00"))


async def test_a_site_without_a_secret_cannot_sign(db_url: str) -> None:
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        await _resident(c, admin)
        made = await c.call("POST", P, admin, 201, _body())
        c.client.app[SITE_CREDENTIALS].pop("demo")  # the site's secret is withdrawn
        err = await c.call("POST", P, admin, 409, _body())
        assert err["error"]["field"] == "site" and " / " in err["error"]["message"]
        await c.call("GET", f"{P}/{made['id']}/qr.svg", admin, 409)


async def test_who_may_issue(db_url: str) -> None:
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        await _resident(c, admin)
        for role, status in (("guard", 201), ("customer_service", 201), ("finance", 403),
                             ("technician", 403), ("operations_lead", 403)):
            who = await token_headers(c.sessions, role, ["demo"])
            await c.call("POST", P, who, status, _body())
            await c.call("GET", P, who, 200 if status == 201 else 403)
        made = await c.call("POST", P, admin, 201, _body())
        finance = await token_headers(c.sessions, "finance", ["demo"])
        await c.call("GET", f"{P}/{made['id']}/qr.svg", finance, 403)
        await c.call("POST", f"{P}/{made['id']}/revoke", finance, 403, {"reason": "x"})
        other = await token_headers(c.sessions, "admin", ["north"])
        for method, path, body in (("POST", P, _body()), ("GET", P, None),
                                   ("GET", f"{P}/{made['id']}/qr.svg", None),
                                   ("POST", f"{P}/{made['id']}/revoke", {"reason": "x"})):
            resp = await c.client.request(method, path, json=body, headers=other)
            assert resp.status in (403, 404), (method, path, resp.status)
        listed = await c.call("GET", P, admin, 200)
        assert all(p["state"] == "active" for p in listed["passes"])


async def test_uses_at_the_door_are_counted_from_the_events(db_url: str) -> None:
    from cloud.access.passes import on_granted

    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        await _resident(c, admin)
        made = await c.call("POST", P, admin, 201, _body(uses=3))
        at = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)

        def ev(i: int, data: dict[str, Any]) -> StoredEvent:
            return StoredEvent(i, i, at + timedelta(minutes=i), "access.granted", "b1-lobby", 1,
                               data, 0)

        async with c.sessions() as session, session.begin():
            site_id = (await session.get(AccessPass, made["id"])).site_id  # type: ignore[union-attr]
            ctx = HandlerContext(session, site_id, "demo", at, None)
            await on_granted(ctx, [
                ev(1, {"method": "pass", "holder": f"visitor-{made['id']}"}),
                ev(2, {"method": "card", "holder": f"visitor-{made['id']}"}),
                ev(3, {"method": "pass", "holder": "visitor-x"}),
                ev(4, {"method": "pass", "holder": f"visitor-{made['id']}"})])
        [listed] = (await c.call("GET", P, admin, 200))["passes"]
        assert (listed["used"], listed["uses_left"]) == (2, 1)
        assert listed["last_used_at"] == "2026-12-07T03:04:00.000Z"
