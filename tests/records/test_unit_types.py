"""A unit's type is a code of ``UNIT_TYPES`` (fee rates are per type): the API refuses any other
with the field and the allowed values named; the import maps the Chinese names to codes and
names the file row and column of a type it cannot map."""

from __future__ import annotations

import aiohttp

from cloud.records.tables import UNIT_TYPES
from tests.records.conftest import Console, error_of

HEADER = "房号 unit_code,楼栋 building_code,建筑面积 area,类型 unit_type\n"


async def _import(c: Console, sheet: str, status: int, *, dry_run: bool = False) -> dict:
    form = aiohttp.FormData()
    form.add_field("file", sheet.encode(), filename="units.csv")
    result: dict = await c.call("POST", f"/api/imports/units?site=garden&dry_run="
                                f"{'true' if dry_run else 'false'}", status, data=form)
    return result


async def test_the_api_refuses_a_type_outside_the_table(console: Console) -> None:
    c = console
    await c.call("POST", "/api/buildings", 201, {"site": "garden", "code": "1", "name": "1号楼"})
    base = {"site": "garden", "building": "1", "area": "50"}
    bad = await c.call("POST", "/api/units", 400, {**base, "code": "1-1", "unit_type": "villa"})
    err = error_of(bad)
    assert err["field"] == "unit_type"
    for code in UNIT_TYPES:
        assert code in err["message"]
    assert "住宅" in err["message"] and "储藏室" in err["message"]

    unit = await c.call("POST", "/api/units", 201, {**base, "code": "1-1"})
    assert unit["unit_type"] == "residential"  # the default
    shop = await c.call("POST", "/api/units", 201, {**base, "code": "1-2", "unit_type": "商铺"})
    assert shop["unit_type"] == "commercial"
    bad = await c.call("PATCH", f"/api/units/{unit['id']}", 400, {"unit_type": "住宅楼"})
    assert error_of(bad)["field"] == "unit_type"
    changed = await c.call("PATCH", f"/api/units/{unit['id']}", 200, {"unit_type": "Office"})
    assert changed["unit_type"] == "office"

    listed = await c.call("GET", "/api/units?site=garden&type=commercial", 200)
    assert [u["code"] for u in listed["units"]] == ["1-2"]
    bad = await c.call("GET", "/api/units?site=garden&type=villa", 400)
    assert error_of(bad)["field"] == "type"


async def test_the_import_maps_chinese_names_and_refuses_the_rest(console: Console) -> None:
    c = console
    sheet = HEADER + ("1-101,1,90,住宅\n"
                      "S-01,1,60,商铺\n"
                      "O-01,1,80,办公\n"
                      "C-01,1,8,储藏室\n"
                      "P-01,1,12,车位\n"
                      "1-102,1,90,residential\n"
                      "1-103,1,90,\n")
    done = await _import(c, sheet, 200)
    assert done["created"] == 7 and done["errors"] == []
    units = (await c.call("GET", "/api/units?site=garden", 200))["units"]
    assert {u["code"]: u["unit_type"] for u in units} == {
        "1-101": "residential", "S-01": "commercial", "O-01": "office", "C-01": "storage",
        "P-01": "parking", "1-102": "residential", "1-103": "residential"}

    bad = HEADER + "2-101,2,90,住宅\n2-102,2,90,别墅\n2-103,2,90,shop\n"
    for dry_run, status in ((True, 200), (False, 422)):
        result = await _import(c, bad, status, dry_run=dry_run)
        assert [(e["row"], e["column"], e["field"]) for e in result["errors"]] == [
            (3, "类型 unit_type", "unit_type"), (4, "类型 unit_type", "unit_type")]
        assert "住宅" in result["errors"][0]["message"]
    names = {u["code"] for u in (await c.call("GET", "/api/units?site=garden", 200))["units"]}
    assert "2-101" not in names  # nothing of a refused sheet is applied
