"""``GET /api/search``: a unit found by its code, a resident's name, a phone (last four digits
or whole) or a plate; personal fields masked and name/phone matching off without people.read;
a site the login does not serve is a 404."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from cloud.auth.tables import AuditEntry
from tests.records.conftest import Console, error_of


async def _setup(c: Console) -> dict[str, int]:
    ids: dict[str, int] = {}
    for site in ("garden", "lake"):
        await c.call("POST", "/api/buildings", 201, {"site": site, "code": "1",
                                                     "name": "1号楼"})
    for code in ("1-1-101", "1-1-102", "1-2-201"):
        unit = await c.call("POST", "/api/units", 201, {
            "site": "garden", "building": "1", "code": code, "area": "90",
            "status": "occupied"})
        ids[code] = unit["id"]
    await c.call("POST", "/api/units", 201, {"site": "lake", "building": "1",
                                             "code": "1-1-101", "area": "90"})
    await c.call("POST", "/api/owners", 201, {"site": "garden", "unit": "1-1-101",
                                              "name": "张伟", "phone": "138 1234-5678"})
    await c.call("POST", "/api/tenants", 201, {
        "site": "garden", "unit": "1-1-101", "name": "Li Na", "phone": "+8613900001111",
        "lease_start": "2026-01-01", "lease_end": "2026-12-31"})
    await c.call("POST", "/api/owners", 201, {"site": "garden", "unit": "1-2-201",
                                              "name": "王芳", "phone": "13700005678"})
    await c.call("POST", "/api/owners", 201, {"site": "garden", "unit": "1-1-102",
                                              "name": "张旧", "phone": "13600002222",
                                              "move_in": "2020-01-01",
                                              "move_out": "2025-01-01"})
    await c.call("POST", "/api/owners", 201, {"site": "lake", "unit": "1-1-101",
                                              "name": "张湖", "phone": "13500005678"})
    await c.call("POST", "/api/vehicles", 201, {"site": "garden", "plate": "沪A12345",
                                                "holder": "张伟", "unit": "1-1-102"})
    await c.call("POST", "/api/vehicles", 201, {"site": "lake", "plate": "沪A12346",
                                                "holder": "张湖", "unit": "1-1-101"})
    return ids


async def _find(c: Console, q: str, site: str = "garden", *,
                headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    body = await c.call("GET", f"/api/search?site={site}&q={quote(q)}", 200, headers=headers)
    results: list[dict[str, Any]] = body["results"]
    return results


def _found(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["unit"], r["matched"]) for r in results]


async def test_each_way_of_finding_a_unit(console: Console) -> None:
    c = console
    ids = await _setup(c)

    exact = await _find(c, "1-1-101")
    assert _found(exact) == [("1-1-101", "unit")]
    unit = exact[0]
    assert unit["unit_id"] == ids["1-1-101"] and unit["building"] == "1号楼"
    assert [(p["name"], p["role"], p["phone"]) for p in unit["residents"]] == [
        ("张伟", "owner", "138 1234-5678"), ("Li Na", "tenant", "+8613900001111")]
    assert unit["plates"] == []
    assert _found(await _find(c, "1-1")) == [("1-1-101", "unit"), ("1-1-102", "unit")]

    # Names: a substring, case-insensitive; a moved-out owner is not found.
    assert _found(await _find(c, "张")) == [("1-1-101", "name")]
    assert _found(await _find(c, "li na")) == [("1-1-101", "name")]
    assert await _find(c, "张旧") == []

    # Phones: the last four digits (two units here, not the other site's), or the whole
    # number however it was written.
    assert _found(await _find(c, "5678")) == [("1-1-101", "phone"), ("1-2-201", "phone")]
    assert _found(await _find(c, "13812345678")) == [("1-1-101", "phone")]
    assert _found(await _find(c, "139-0000-1111")) == [("1-1-101", "phone")]
    assert await _find(c, "13600002222") == []  # moved out

    # Plates: case, spaces and a full-width letter do not matter; partial plates work.
    for q in ("沪A12345", "沪a 12345", "沪Ａ１２３４５", "A12345"):
        found = await _find(c, q)
        assert _found(found) == [("1-1-102", "plate")], q
        assert found[0]["plates"] == ["沪A12345"]

    # The other site's units, residents and plates stay there.
    lake = await _find(c, "1-1-101", "lake")
    assert [r["residents"][0]["name"] for r in lake] == ["张湖"]
    assert lake[0]["plates"] == ["沪A12346"]
    assert await _find(c, "nobody") == []


async def test_bad_queries_name_the_field(console: Console) -> None:
    c = console
    await _setup(c)
    bad = await c.call("GET", "/api/search?site=garden&q=%20", 400)
    assert error_of(bad)["field"] == "q"
    bad = await c.call("GET", "/api/search?site=garden", 400)
    assert error_of(bad)["field"] == "q"
    bad = await c.call("GET", "/api/search?q=1-1", 400)
    assert error_of(bad)["field"] == "site"
    bad = await c.call("GET", f"/api/search?site=garden&q={'x' * 101}", 400)
    assert error_of(bad)["field"] == "q"
    await c.call("GET", "/api/search?site=nowhere&q=1", 404)


async def test_masked_without_people_read_and_scoped_to_the_login_sites(
        console: Console) -> None:
    c = console
    await _setup(c)
    tech = await c.as_role("technician", ["garden"])
    found = await _find(c, "1-1-101", headers=tech)
    assert [(p["name"], p["phone"]) for p in found[0]["residents"]] == [
        ("张*", "138****5678"), ("L****", "+86****1111")]
    # A name or a phone would be revealed by a hit: not searched for this role.
    assert await _find(c, "张伟", headers=tech) == []
    assert await _find(c, "5678", headers=tech) == []
    assert _found(await _find(c, "沪A12345", headers=tech)) == [("1-1-102", "plate")]
    await c.call("GET", "/api/search?site=lake&q=1", 404, headers=tech)

    clerk = await c.as_role("customer_service", ["lake"])
    assert await _find(c, "张伟", "lake", headers=clerk) == []
    await c.call("GET", "/api/search?site=garden&q=1", 404, headers=clerk)
    # Shown in full: one view row per answer naming the residents shown.
    before = await _views(c)
    found = await _find(c, "张湖", "lake", headers=clerk)
    assert found[0]["residents"][0]["phone"] == "13500005678"
    views = (await _views(c))[len(before):]
    assert len(views) == 1 and views[0].detail is not None
    assert views[0].detail["fields"] == ["name", "phone"]
    assert views[0].detail["ids"] == [found[0]["residents"][0]["id"]]
    # No one shown, nothing logged.
    await _find(c, "nobody", "lake", headers=clerk)
    assert len(await _views(c)) == len(before) + 1
    await c.call("GET", "/api/search?site=lake&q=1", 403,
                 headers=await c.as_role("guard", ["lake"]))


async def _views(c: Console) -> list[AuditEntry]:
    async with c.sessions() as session:
        return list((await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "view", AuditEntry.entity == "resident").order_by(
            AuditEntry.id))).all())
