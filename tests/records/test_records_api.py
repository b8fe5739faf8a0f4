"""The register over HTTP on SQLite and PostgreSQL: records created, refused with the field
named, changed with their history, protected (masking, view audit, site scope), and the
parking and meter rules that other modules rely on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloud.auth.tables import AuditEntry
from tests.records.conftest import Console, error_of


async def _unit(c: Console, code: str = "1-1-101", site: str = "garden") -> dict[str, Any]:
    if not (await c.call("GET", f"/api/buildings?site={site}&q=1", 200))["buildings"]:
        await c.call("POST", "/api/buildings", 201, {"site": site, "code": "1", "name": "1号楼"})
    unit: dict[str, Any] = await c.call("POST", "/api/units", 201, {
        "site": site, "building": "1", "code": code, "area": "89.5", "inner_area": 72.3,
        "unit_type": "residential", "status": "occupied", "floor": 1})
    return unit


async def _audit(c: Console, action: str) -> list[AuditEntry]:
    async with c.sessions() as session:
        return list((await session.scalars(select(AuditEntry).where(
            AuditEntry.action == action).order_by(AuditEntry.id))).all())


async def test_units_are_checked_changed_with_history_and_deleted_only_when_free(
        console: Console) -> None:
    c = console
    unit = await _unit(c)
    assert unit["area"] == "89.50" and unit["building"] == "1" and unit["site"] == "garden"

    for body, field, why in [
        ({"area": "0"}, "area", "须大于 0"),
        ({"area": "abc"}, "area", "须为数字"),
        ({"status": "sold"}, "status", "须为以下之一"),
        ({"building": "9"}, "building", "楼栋不存在"),
        ({"inner_area": "120"}, "inner_area", "套内面积不能大于建筑面积"),
        ({"colour": "red"}, "colour", "未知字段"),
    ]:
        bad = await c.call("POST", "/api/units", 400, {
            "site": "garden", "building": "1", "code": "1-1-102", "area": "80", **body})
        assert error_of(bad)["field"] == field and why in bad["error"]["message"], body
    dup = await c.call("POST", "/api/units", 409, {
        "site": "garden", "building": "1", "code": "1-1-101", "area": "80"})
    assert error_of(dup)["field"] == "code" and dup["error"]["existing_id"] == unit["id"]
    await c.call("POST", "/api/units", 404, {"site": "nowhere", "building": "1",
                                             "code": "x", "area": "1"})

    changed = await c.call("PATCH", f"/api/units/{unit['id']}", 200,
                           {"area": "100", "status": "rented"})
    assert changed["area"] == "100.00" and changed["status"] == "rented"
    assert changed["inner_area"] == "72.30"  # untouched fields stay
    bad = await c.call("PATCH", f"/api/units/{unit['id']}", 400, {"status": "gone"})
    assert error_of(bad)["field"] == "status"

    history = (await c.call("GET", f"/api/units/{unit['id']}/history", 200))["history"]
    assert [h["action"] for h in history] == ["create", "update"]
    assert history[0]["actor"].startswith("token:")
    assert history[1]["before"] == {"area": "89.50", "status": "occupied"}
    assert history[1]["after"] == {"area": "100.00", "status": "rented"}

    listed = await c.call("GET", "/api/units?site=garden&status=rented&q=101", 200)
    assert [u["code"] for u in listed["units"]] == ["1-1-101"]
    assert (await c.call("GET", "/api/units?site=garden&status=vacant", 200))["units"] == []

    building = (await c.call("GET", "/api/buildings?site=garden", 200))["buildings"][0]
    busy = await c.call("DELETE", f"/api/buildings/{building['id']}", 409)
    assert error_of(busy)["code"] == "has_dependants" and busy["error"]["dependants"] == {
        "units": 1}
    await c.call("POST", "/api/owners", 201, {"site": "garden", "unit": "1-1-101",
                                              "name": "张三"})
    busy = await c.call("DELETE", f"/api/units/{unit['id']}", 409)
    assert busy["error"]["dependants"] == {"residents": 1} and "业主/租户" in busy[
        "error"]["message"]


async def test_tenants_need_lease_dates_and_moving_out_keeps_the_row(console: Console) -> None:
    c = console
    await _unit(c)
    base = {"site": "garden", "unit": "1-1-101", "name": "李四", "phone": "13900001111"}
    bad = await c.call("POST", "/api/tenants", 400, base)
    assert error_of(bad)["field"] == "lease_start"
    bad = await c.call("POST", "/api/tenants", 400, {**base, "lease_start": "2026-01-01",
                                                     "lease_end": "2025-12-31"})
    assert error_of(bad)["field"] == "lease_end"
    bad = await c.call("POST", "/api/tenants", 400, {**base, "lease_start": "2026-13-01",
                                                     "lease_end": "2026-12-31"})
    assert error_of(bad)["field"] == "lease_start"
    bad = await c.call("POST", "/api/tenants", 400, {**base, "phone": "call me",
                                                     "lease_start": "2026-01-01",
                                                     "lease_end": "2026-12-31"})
    assert error_of(bad)["field"] == "phone"
    tenant = await c.call("POST", "/api/tenants", 201, {
        **base, "lease_start": "2026-01-01", "lease_end": "2026-12-31", "move_in": "2026-01-02"})
    assert tenant["role"] == "tenant"
    # The same person as an owner is another record; a tenant id is not an owner.
    await c.call("GET", f"/api/owners/{tenant['id']}", 404)
    dup = await c.call("POST", "/api/tenants", 409, {
        **base, "lease_start": "2026-01-01", "lease_end": "2026-12-31"})
    assert error_of(dup)["field"] == "unit"

    bad = await c.call("PATCH", f"/api/tenants/{tenant['id']}", 400, {"move_out": "2025-12-01"})
    assert error_of(bad)["field"] == "move_out"
    moved = await c.call("PATCH", f"/api/tenants/{tenant['id']}", 200,
                         {"move_out": "2026-06-30"})
    assert moved["move_out"] == "2026-06-30"
    await c.call("DELETE", f"/api/tenants/{tenant['id']}", 405)
    assert (await c.call("GET", "/api/tenants?site=garden&current=1", 200))["tenants"] == []
    gone = (await c.call("GET", "/api/tenants?site=garden&current=0&unit=1-1-101", 200))
    assert [t["id"] for t in gone["tenants"]] == [tenant["id"]]


async def test_personal_data_is_masked_without_people_read_and_each_view_is_audited(
        console: Console) -> None:
    c = console
    await _unit(c)
    owner = await c.call("POST", "/api/owners", 201, {
        "site": "garden", "unit": "1-1-101", "name": "张三丰", "phone": "13812345678",
        "id_number": "110101199001011234", "email": "zhang@example.com"})
    await c.call("POST", "/api/vehicles", 201, {"site": "garden", "plate": "粤B12345",
                                                "holder": "张三丰", "unit": "1-1-101"})
    views_before = len(await _audit(c, "view"))

    installer = await c.as_role("installer", ["garden"])
    seen = (await c.call("GET", "/api/owners?site=garden", 200, headers=installer))["owners"]
    assert seen[0]["phone"] == "138****5678" and seen[0]["name"] == "张**"
    assert seen[0]["id_number"] == "110***********1234"
    assert seen[0]["email"] == "z***@example.com"
    car = (await c.call("GET", "/api/vehicles?site=garden", 200, headers=installer))
    assert car["vehicles"][0]["holder"] == "张**" and car["vehicles"][0]["plate"] == "粤B12345"
    history = await c.call("GET", f"/api/owners/{owner['id']}/history", 200, headers=installer)
    assert history["history"][0]["after"]["phone"] == "138****5678"
    # Searching by phone would reveal it: without people.read, q matches unit codes only.
    assert (await c.call("GET", "/api/owners?q=5678", 200, headers=installer))["owners"] == []
    assert len(await _audit(c, "view")) == views_before  # nothing personal was shown

    service = await c.as_role("customer_service", ["garden"])
    seen = (await c.call("GET", "/api/owners?site=garden", 200, headers=service))["owners"]
    assert seen[0]["phone"] == "13812345678" and seen[0]["name"] == "张三丰"
    views = (await _audit(c, "view"))[views_before:]
    assert len(views) == 1  # one row per request, not per record
    assert views[0].entity == "resident" and views[0].actor.startswith("token:")
    assert views[0].detail is not None and views[0].detail["ids"] == [owner["id"]]
    assert set(views[0].detail["fields"]) == {"name", "phone", "id_number", "email"}

    other_site = await c.as_role("customer_service", ["lake"])
    await c.call("GET", f"/api/owners/{owner['id']}", 404, headers=other_site)
    assert (await c.call("GET", "/api/owners", 200, headers=other_site))["owners"] == []
    guard = await c.as_role("guard", ["garden"])
    await c.call("GET", "/api/owners", 403, headers=guard)
    await c.call("POST", "/api/owners", 403, {"site": "garden", "unit": "1-1-101",
                                              "name": "x"}, headers=installer)


async def test_vehicle_and_space_edits_are_the_parking_dataset_and_bump_its_version(
        console: Console) -> None:
    c = console
    await _unit(c)
    car = await c.call("POST", "/api/vehicles", 201, {
        "site": "garden", "plate": "粤b·12345", "holder": "张三", "unit": "1-1-101"})
    assert car["plate"] == "粤B12345" and car["version"] == 1
    parking = await c.call("GET", "/api/sites/garden/parking/vehicles", 200)
    assert parking["version"] == 1 and parking["vehicles"][0]["unit"] == "1-1-101"

    bad = await c.call("POST", "/api/vehicles", 400, {"site": "garden", "plate": "ABC",
                                                      "holder": "x"})
    assert error_of(bad)["field"] == "plate"
    bad = await c.call("POST", "/api/vehicles", 400, {"site": "garden", "plate": "粤B54321",
                                                      "holder": "x", "unit": "9-9-999"})
    assert error_of(bad)["field"] == "unit"
    dup = await c.call("POST", "/api/vehicles", 409, {"site": "garden", "plate": "粤B12345",
                                                      "holder": "x"})
    assert error_of(dup)["field"] == "plate"

    changed = await c.call("PATCH", f"/api/vehicles/{car['id']}", 200, {"role": "tenant"})
    assert changed["version"] == 2 and changed["role"] == "tenant"
    space = await c.call("POST", "/api/spaces", 201, {
        "site": "garden", "lot": "lot-main", "code": "B1-001", "kind": "owned",
        "unit": "1-1-101", "plate": "粤B12345"})
    assert space["version"] == 3
    bad = await c.call("POST", "/api/spaces", 400, {"site": "garden", "lot": "lot-main",
                                                    "code": "B1-002", "kind": "rented"})
    assert error_of(bad)["field"] == "unit"
    deleted = await c.call("DELETE", f"/api/vehicles/{car['id']}", 200)
    assert deleted["version"] == 4
    assert (await c.call("GET", "/api/sites/garden/parking/vehicles", 200))["vehicles"] == []
    history = await c.call("GET", f"/api/vehicles/{car['id']}/history", 200)
    assert [h["action"] for h in history["history"]] == ["create", "update", "delete"]


async def test_meter_replacement_closes_the_old_and_opens_the_new_in_one_step(
        console: Console) -> None:
    c = console
    await _unit(c)
    meter = await c.call("POST", "/api/meters", 201, {
        "site": "garden", "code": "E-101", "utility": "electricity", "unit": "1-1-101",
        "device_key": "meter-1", "register": "energy_import_kwh",
        "installed_at": "2025-01-01", "initial_reading": "12.5"})
    assert meter["installed_at"] == "2024-12-31T16:00:00.000Z"  # site midnight
    assert meter["active"] is True and meter["multiplier"] == "1"
    bad = await c.call("POST", "/api/meters", 400, {
        "site": "garden", "code": "W-1", "utility": "water", "scope": "shared",
        "unit": "1-1-101", "installed_at": "2025-01-01"})
    assert error_of(bad)["field"] == "unit"

    bad = await c.call("POST", f"/api/meters/{meter['id']}/replace", 400, {
        "final_reading": "10", "at": "2026-11-01T09:00:00+08:00", "code": "E-101b",
        "initial_reading": "0"})
    assert error_of(bad)["field"] == "final_reading"
    bad = await c.call("POST", f"/api/meters/{meter['id']}/replace", 400, {
        "final_reading": "800", "at": "2027-01-01", "code": "E-101b", "initial_reading": "0"})
    assert error_of(bad)["field"] == "at"
    done = await c.call("POST", f"/api/meters/{meter['id']}/replace", 201, {
        "final_reading": "812.25", "at": "2026-11-01T09:00:00+08:00", "code": "E-101b",
        "initial_reading": "0.5"})
    old, new = done["old"], done["new"]
    assert old["active"] is False and old["final_reading"] == "812.25"
    assert old["removed_at"] == "2026-11-01T01:00:00.000Z"
    assert new["replaces_id"] == old["id"] and new["initial_reading"] == "0.5"
    assert new["installed_at"] == old["removed_at"] and new["unit"] == "1-1-101"
    assert new["device_key"] == "meter-1" and new["register"] == "energy_import_kwh"
    again = await c.call("POST", f"/api/meters/{meter['id']}/replace", 409, {
        "final_reading": "900", "at": "2026-11-02", "code": "E-101c", "initial_reading": "0"})
    assert error_of(again)["code"] == "already_removed"
    active = await c.call("GET", "/api/meters?site=garden&active=1&unit=1-1-101", 200)
    assert [m["code"] for m in active["meters"]] == ["E-101b"]
    history = await c.call("GET", f"/api/meters/{meter['id']}/history", 200)
    assert [h["action"] for h in history["history"]] == ["create", "replace"]
    assert history["history"][1]["after"]["final_reading"] == "812.25"


async def test_companies_run_sites(console: Console) -> None:
    c = console
    company = await c.call("POST", "/api/companies", 201, {"code": "WY01", "name": "示例物业"})
    await c.call("POST", f"/api/companies/{company['id']}/sites", 200, {"site": "garden"})
    shown = await c.call("GET", f"/api/companies/{company['id']}", 200)
    assert shown["sites"] == ["garden"]
    busy = await c.call("DELETE", f"/api/companies/{company['id']}", 409)
    assert busy["error"]["dependants"] == {"sites": 1}
    lake_only = await c.as_role("operations_lead", ["lake"])
    await c.call("GET", f"/api/companies/{company['id']}", 404, headers=lake_only)
    await c.call("DELETE", f"/api/companies/{company['id']}/sites/garden", 200)
    await c.call("DELETE", f"/api/companies/{company['id']}", 200)
    history = await c.call("GET", f"/api/companies/{company['id']}/history", 200)
    assert [h["action"] for h in history["history"]] == [
        "create", "assign_site", "unassign_site", "delete"]
