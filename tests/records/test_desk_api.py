"""What the customer-service desk relies on beyond the register: a work order names the unit
a call is about (checked against the site's units) and a unit's orders are listed by it;
complaints are a category; the requester is the caller unless named."""

from __future__ import annotations

from tests.records.conftest import Console, error_of


async def test_a_call_is_logged_for_a_unit_and_listed_by_it(console: Console) -> None:
    c = console
    for site in ("garden", "lake"):
        await c.call("POST", "/api/buildings", 201, {"site": site, "code": "1", "name": "1号楼"})
        await c.call("POST", "/api/units", 201, {"site": site, "building": "1",
                                                 "code": "1-1-101", "area": "90"})
    clerk = await c.as_role("customer_service", ["garden"])
    order = await c.call("POST", "/api/workorders", 201, {
        "site": "garden", "category": "complaint", "title": "1-1-101 投诉", "unit": "1-1-101",
        "priority": "high", "description": "楼上噪音"}, headers=clerk)
    assert order["unit"] == "1-1-101" and order["category"] == "complaint"
    assert order["skill"] == "general" and order["number"]
    assert "test-customer_service" in order["source"]["requested_by"]
    await c.call("POST", "/api/workorders", 201, {
        "site": "garden", "category": "plumbing", "title": "公共区域漏水"}, headers=clerk)
    await c.call("POST", "/api/workorders", 201, {
        "site": "lake", "category": "plumbing", "title": "湖畔 1-1-101", "unit": "1-1-101"})

    bad = await c.call("POST", "/api/workorders", 400, {
        "site": "garden", "category": "plumbing", "title": "x", "unit": "9-9-999"},
        headers=clerk)
    assert error_of(bad)["field"] == "unit" and "9-9-999" in bad["error"]["message"]

    listed = await c.call("GET", "/api/workorders?site=garden&unit=1-1-101", 200,
                          headers=clerk)
    assert [o["id"] for o in listed["workorders"]] == [order["id"]]
    every = await c.call("GET", "/api/workorders?unit=1-1-101", 200)
    assert sorted(o["site"] for o in every["workorders"]) == ["garden", "lake"]
