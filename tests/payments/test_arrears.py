"""Arrears and collection rate (收缴率) on a small hand-computed community (as of 2026-12-01).

| bill | unit  | period  | due   | lines                          | paid | state   |
|------|-------|---------|-------|--------------------------------|------|---------|
| A    | 1-101 | 2026-10 | 11-10 | property 300, water 50         | 100  | partial |
| B    | 1-101 | 2026-11 | 11-25 | property 300, late fee 3       | 0    | open    |
| C    | 1-102 | 2026-11 | 11-25 | property 200, water 40         | 240  | paid    |
| D    | 2-101 | 2026-11 | 11-28 | property 400, discount −40     | 90   | partial |
| E    | 2-101 | 2026-12 | 12-20 | property 400                   | 0    | open    |
| F    | 1-102 | 2026-10 | 11-10 | property 999                   | —    | void    |

Arrears (overdue, unpaid, late fees included): 1-101 = 250 + 303 = 553 (oldest 11-10, 21 days),
2-101 = 270 (11-28, 3 days); E is not due yet, F is void. Collection 2026-11 (principal only):
building 1 = 240 / 540 = 0.4444, building 2 = 90 / 360 = 0.2500, all = 330 / 900 = 0.3667.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.payments.arrears import mask_phone
from tests.payments.conftest import Community, Console, build
from tests.support.auth import token_headers


@pytest.fixture
async def community(sessions: async_sessionmaker[AsyncSession]) -> Community:
    return await build(sessions, None)


async def _world(c: Community, console: Console) -> None:
    a = await c.bill("1-101", "2026-10", date(2026, 11, 10), [("charge", "property", "300.00"),
                                                              ("charge", "water", "50.00")])
    await c.bill("1-101", "2026-11", date(2026, 11, 25), [("charge", "property", "300.00"),
                                                          ("late_fee", "late_fee", "3.00")])
    await c.bill("1-102", "2026-11", date(2026, 11, 25), [("charge", "property", "200.00"),
                                                          ("charge", "water", "40.00")])
    d = await c.bill("2-101", "2026-11", date(2026, 11, 28), [("charge", "property", "400.00"),
                                                              ("discount", "property", "-40.00")])
    await c.bill("2-101", "2026-12", date(2026, 12, 20), [("charge", "property", "400.00")])
    await c.bill("1-102", "2026-10", date(2026, 11, 10), [("charge", "property", "999.00")],
                 state="void")
    for unit, amount, bills in (("1-101", "100.00", [a]), ("1-102", "240.00", None),
                                ("2-101", "90.00", [d])):
        body = {"site": "demo", "unit": unit, "amount": amount, "method": "cash",
                "idempotency_key": unit, **({"bills": bills} if bills else {})}
        await console.call("POST", "/api/payments", 201, body)


async def test_arrears_list_filters_and_export(console: Console, community: Community) -> None:
    await _world(community, console)
    got = await console.call("GET", "/api/arrears?site=demo", 200)
    assert (got["units"], got["total"]) == (2, "823.00")
    assert [(r["unit"], r["building"], r["bills"], r["unpaid"], r["oldest_due"],
             r["days_overdue"], r["periods"]) for r in got["arrears"]] == [
        ("1-101", "1", 2, "553.00", "2026-11-10", 21, ["2026-10", "2026-11"]),
        ("2-101", "2", 1, "270.00", "2026-11-28", 3, ["2026-11"])]
    first = got["arrears"][0]
    assert first["owner"] == "张三"
    assert first["phone"] == "13812345678"  # admin holds people.read
    b2 = await console.call("GET", "/api/arrears?site=demo&building=2", 200)
    assert [r["unit"] for r in b2["arrears"]] == ["2-101"]
    oct_ = await console.call("GET", "/api/arrears?site=demo&period=2026-10", 200)
    assert [(r["unit"], r["unpaid"]) for r in oct_["arrears"]] == [("1-101", "250.00")]
    water = await console.call("GET", "/api/arrears?site=demo&fee=water", 200)
    assert [(r["unit"], r["unpaid"]) for r in water["arrears"]] == [("1-101", "250.00")]
    resp = await console.client.get("/api/arrears/export?site=demo&format=csv")
    lines = (await resp.read()).decode("utf-8-sig").strip().splitlines()
    assert resp.status == 200 and len(lines) == 3
    assert lines[1].startswith("1-101,1,张三,") and ",553.00,2026-11-10,21," in lines[1]


def test_phone_masking() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("12345") == "****" and mask_phone(None) is None


async def test_collection_rate_by_building_fee_and_period(console: Console,
                                                          community: Community) -> None:
    await _world(community, console)
    by_b = await console.call("GET", "/api/stats/collection?site=demo&period=2026-11"
                                     "&by=building", 200)
    assert [(g["key"], g["billed"], g["collected"], g["outstanding"], g["rate"])
            for g in by_b["groups"]] == [
        ("1", "540.00", "240.00", "300.00", "0.4444"),
        ("2", "360.00", "90.00", "270.00", "0.2500")]
    assert by_b["total"] == {"billed": "900.00", "collected": "330.00",
                             "outstanding": "570.00", "rate": "0.3667"}
    by_f = await console.call("GET", "/api/stats/collection?site=demo&period=2026-11&by=fee",
                              200)
    assert [(g["key"], g["label"], g["billed"], g["collected"], g["rate"])
            for g in by_f["groups"]] == [
        ("property", "物业费", "860.00", "290.00", "0.3372"),
        ("water", "水费", "40.00", "40.00", "1.0000")]
    assert by_f["total"]["rate"] == "0.3667"
    by_p = await console.call("GET", "/api/stats/collection?site=demo&by=period", 200)
    assert [(g["key"], g["billed"], g["collected"], g["rate"]) for g in by_p["groups"]] == [
        ("2026-10", "350.00", "100.00", "0.2857"), ("2026-11", "900.00", "330.00", "0.3667"),
        ("2026-12", "400.00", "0.00", "0.0000")]
    err = await console.call("GET", "/api/stats/collection?site=demo&by=unit", 400)
    assert err["error"]["field"] == "by"
    empty = await console.call("GET", "/api/stats/collection?site=demo&period=2030-01", 200)
    assert empty["groups"] == [] and empty["total"]["rate"] is None


async def test_late_fee_assessment_endpoint(console: Console, community: Community) -> None:
    out = await console.call("POST", "/api/late-fees/assess", 200, {"site": "demo"})
    assert out == {"site": "demo", "as_of": "2026-12-01", "bills_changed": 0}
    err = await console.call("POST", "/api/late-fees/assess", 400,
                             {"site": "demo", "as_of": "tomorrow"})
    assert err["error"]["field"] == "as_of"
    run = await console.call("POST", "/api/reminders/run", 200, {"site": "demo"})
    assert run["scheduled"] == 0


async def test_roles_and_sites(console: Console, community: Community) -> None:
    await _world(community, console)
    sessions = community.sessions
    lead = await token_headers(sessions, "operations_lead", sites=["demo"])
    resp = await console.client.get("/api/arrears?site=demo", headers=lead)
    assert resp.status == 200
    assert (await resp.json())["arrears"][0]["phone"] == "138****5678"
    pay = {"site": "demo", "unit": "1-101", "amount": "1.00", "method": "cash",
           "idempotency_key": "lead"}
    assert (await console.client.post("/api/payments", json=pay, headers=lead)).status == 403
    guard = await token_headers(sessions, "guard", sites=["demo"])
    assert (await console.client.get("/api/arrears?site=demo", headers=guard)).status == 403
    other = await token_headers(sessions, "finance", sites=["elsewhere"])
    for path in ("/api/arrears?site=demo", "/api/receipts/DEMO-2026-000001",
                 "/api/payments/1", "/api/balances?site=demo&unit=1-101"):
        assert (await console.client.get(path, headers=other)).status == 404, path
    finance = await token_headers(sessions, "finance", sites=["demo"])
    resp = await console.client.post("/api/payments", json=pay, headers=finance)
    assert resp.status == 201, await resp.text()
    assert "test-finance" in (await resp.json())["taken_by"]
