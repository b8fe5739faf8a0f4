"""Bill runs and bills through the API on SQLite and PostgreSQL: a second run of a period
is refused, an interrupted run resumes with exactly one bill per unit, holds are released
with a corrected consumption, bills are voided and adjusted (audited, never deleted),
fee items are validated with the field named, and roles are enforced."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud.auth.audit import SYSTEM
from cloud.auth.tables import AuditEntry
from cloud.billing.runs import execute, open_run
from cloud.billing.tables import Bill, BillLine, BillRun
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.payments.balances import apply_prepaid
from contract import FakeClock
from tests.billing.conftest import T0, Console, load_sample
from tests.support.auth import token_headers


async def _run_id(c: Console, period: str = "2026-11") -> int:
    async with c.sessions() as session, session.begin():
        site = (await session.execute(select(Site).where(Site.slug == "sunny"))).scalar_one()
        run, _ = await open_run(session, site=site, cycle="monthly", period=period,
                                actor=SYSTEM, now=T0)
        return run.id


async def _bill_counts(c: Console) -> list[int]:
    async with c.sessions() as session:
        rows = (await session.execute(select(func.count()).select_from(Bill).where(
            Bill.period == "2026-11").group_by(Bill.unit_id))).scalars().all()
    return list(rows)


async def test_an_interrupted_run_resumes_with_one_bill_per_unit(console: Console) -> None:
    c = console
    await load_sample(c.sessions)
    run_id = await _run_id(c)
    seen: list[tuple[int, int]] = []

    def crash(run: BillRun) -> None:
        seen.append((run.units_done, run.bills))
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        await execute(c.sessions, run_id, clock=c.clock, actor=SYSTEM, settle=apply_prepaid,
                      batch_size=4, progress=crash)
    assert seen == [(4, 4)]  # the first batch was committed with its progress
    run = await c.call("GET", f"/api/bill-runs/{run_id}", 200)
    assert (run["state"], run["units_done"], run["bills"]) == ("failed", 4, 4)
    assert "power cut" in run["error"]
    # posting the period again resumes it where it stopped
    resumed = await c.run_to_end("sunny", "2026-11")
    assert resumed["id"] == run_id and resumed["state"] == "done"
    assert (resumed["units_done"], resumed["bills"], resumed["held"]) == (10, 10, 1)
    assert resumed["total"] == "7601.93"
    assert await _bill_counts(c) == [1] * 10
    listed = await c.call("GET", "/api/bill-runs?site=sunny", 200)
    assert [r["period"] for r in listed["bill_runs"]] == ["2026-11", "2026-10"]
    await c.call("POST", "/api/bill-runs", 409, {"site": "sunny", "period": "2026-11"})


async def test_bad_run_requests_name_the_field(console: Console) -> None:
    c = console
    await load_sample(c.sessions)
    for body, field in [({"site": "sunny", "period": "2026-13"}, "period"),
                        ({"site": "sunny", "cycle": "weekly", "period": "2026-11"}, "cycle"),
                        ({"site": "sunny"}, "period"),
                        ({"site": "sunny", "period": "2026-11", "x": 1}, "x")]:
        err = await c.call("POST", "/api/bill-runs", 400, body)
        assert err["error"]["field"] == field
    err = await c.call("POST", "/api/bill-runs", 404, {"site": "nowhere", "period": "2026-11"})
    assert err["error"]["field"] == "site"


async def test_release_void_and_adjust_are_audited_and_never_delete(console: Console) -> None:
    c = console
    await load_sample(c.sessions)
    await c.run_to_end("sunny", "2026-11")
    page = await c.call("GET", "/api/bills?site=sunny&state=held", 200)
    assert len(page["bills"]) == 1 and page["bills"][0]["unit"] == "3-201"
    held_id = page["bills"][0]["id"]
    err = await c.call("POST", f"/api/bills/{held_id}/release", 400,
                       {"note": "x", "corrections": {"WATER": "-3"}})
    assert err["error"]["field"] == "corrections.WATER"
    # the meter reader misread 940 for 94.0: 4 m³ → 13.80
    bill = await c.call("POST", f"/api/bills/{held_id}/release", 200,
                        {"note": "抄表员核实：实际读数 94.0", "corrections": {"WATER": "4"}})
    water = [ln for ln in bill["lines"] if ln["fee_code"] == "WATER"]
    assert [(ln["quantity"], ln["amount"]) for ln in water] == [("4.000000", "13.80")]
    assert water[0]["source"]["corrected_from"] == "850.000000"
    assert (bill["state"], bill["total"]) == ("open", "316.61")  # 203.28+15+84.53+13.80
    await c.call("POST", f"/api/bills/{held_id}/release", 409, {"note": "again"})

    one = (await c.call("GET", "/api/bills?site=sunny&unit=1-101", 200))["bills"][0]
    adjusted = await c.call("POST", f"/api/bills/{one['id']}/adjust", 200,
                            {"amount": "-43.13", "reason": "水表故障，本月水费减免"})
    assert adjusted["total"] == "381.14" and adjusted["lines"][-1]["kind"] == "adjustment"
    err = await c.call("POST", f"/api/bills/{one['id']}/adjust", 400,
                       {"amount": "1.005", "reason": "x"})
    assert err["error"]["field"] == "amount"
    voided = await c.call("POST", f"/api/bills/{one['id']}/void", 200, {"reason": "重复出账"})
    assert voided["state"] == "void" and voided["void_reason"] == "重复出账"
    await c.call("POST", f"/api/bills/{one['id']}/void", 409, {"reason": "again"})
    await c.call("POST", f"/api/bills/{one['id']}/adjust", 409, {"amount": "1", "reason": "x"})
    partial = (await c.call("GET", "/api/bills?site=sunny&unit=1-102", 200))["bills"][0]
    err = await c.call("POST", f"/api/bills/{partial['id']}/void", 409, {"reason": "x"})
    assert err["error"]["field"] == "paid"
    async with c.sessions() as session:
        actions = (await session.execute(select(AuditEntry.action).where(
            AuditEntry.entity == "bill").order_by(AuditEntry.id))).scalars().all()
        kept = (await session.execute(select(func.count()).select_from(Bill))).scalar_one()
        lines = (await session.execute(select(func.count()).select_from(BillLine).where(
            BillLine.bill_id == one["id"]))).scalar_one()
    assert [a for a in actions if a != "import"][-3:] == ["release", "adjust", "void"]
    assert kept == 11 and lines == 6

    csv = await c.client.get("/api/bills/export?format=csv&site=sunny&period=2026-11",
                             headers=c.headers)
    assert csv.status == 200
    text = (await csv.read()).decode("utf-8-sig")
    assert text.count("\r\n") == 11 and "sunny-2026-11-" in text
    xlsx = await c.client.get("/api/bills/export?format=xlsx&site=sunny", headers=c.headers)
    assert xlsx.status == 200 and (await xlsx.read())[:2] == b"PK"
    await c.call("GET", "/api/bills/export?format=pdf", 400)


async def test_fee_items_api_validates_and_audits(console: Console) -> None:
    c = console
    await load_sample(c.sessions)
    body: dict[str, Any] = {
        "site": "sunny", "code": "GAS", "name": "燃气费", "kind": "metered",
        "rule": {"utility": "gas", "tiers": [{"upto": "30", "price": "3.1"},
                                             {"upto": "20", "price": "3.5"},
                                             {"upto": None, "price": "4"}]}}
    err = await c.call("POST", "/api/fee-items", 400, body)
    assert err["error"]["field"] == "rule.tiers[1].upto"
    body["rule"]["tiers"][1]["upto"] = "60"
    made = await c.call("POST", "/api/fee-items", 201, body)
    await c.call("POST", "/api/fee-items", 409, body)
    changed = await c.call("PATCH", f"/api/fee-items/{made['id']}", 200, {"active": False})
    assert changed["active"] is False and changed["rule"]["utility"] == "gas"
    err = await c.call("PATCH", f"/api/fee-items/{made['id']}", 400,
                       {"rule": {"utility": "gas", "price": "abc"}})
    assert err["error"]["field"] == "rule.price"
    listed = await c.call("GET", "/api/fee-items?site=sunny", 200)
    assert "GAS" in [f["code"] for f in listed["fee_items"]]
    await c.call("GET", "/api/fee-items/999999", 404)


async def test_finance_may_bill_and_a_guard_may_not(console: Console) -> None:
    c = console
    await load_sample(c.sessions)
    finance = await token_headers(c.sessions, "finance", sites=["sunny"])
    guard = await token_headers(c.sessions, "guard", sites=["sunny"])
    await c.call("GET", "/api/bills?site=sunny", 200, headers=finance)
    await c.call("GET", "/api/bills?site=sunny", 403, headers=guard)
    await c.call("POST", "/api/bill-runs", 403, {"site": "sunny", "period": "2026-11"},
                 headers=guard)
    await c.call("GET", "/api/fee-items", 403, headers=guard)
    run = await c.call("POST", "/api/bill-runs", 202, {"site": "sunny", "period": "2026-11"},
                       headers=finance)
    await c.call("GET", f"/api/bill-runs/{run['id']}", 403, headers=guard)
    for _ in range(200):
        if (await c.call("GET", f"/api/bill-runs/{run['id']}", 200,
                         headers=finance))["state"] == "done":
            break
        await asyncio.sleep(0.02)
    other = await token_headers(c.sessions, "finance", sites=["elsewhere"])
    page = await c.call("GET", "/api/bills", 200, headers=other)
    assert page["bills"] == []
    bill_id = (await c.call("GET", "/api/bills?site=sunny", 200, headers=finance)
               )["bills"][0]["id"]
    await c.call("GET", f"/api/bills/{bill_id}", 404, headers=other)
    page_resp = await c.client.get("/billing/runs?site=sunny", headers=finance)
    assert page_resp.status == 200 and "出账" in await page_resp.text()


async def test_two_workers_on_one_run_bill_each_unit_once(pg_url: str) -> None:
    await migrate(pg_url)
    engine = make_engine(pg_url)
    sessions = session_factory(engine)
    try:
        c = Console(None, FakeClock(T0), sessions, {})  # type: ignore[arg-type]
        await load_sample(sessions)
        run_id = await _run_id(c)
        await asyncio.gather(*(execute(sessions, run_id, clock=c.clock, actor=SYSTEM,
                                       settle=apply_prepaid, batch_size=3)
                               for _ in range(2)))
        assert await _bill_counts(c) == [1] * 10
        async with sessions() as session:
            run = (await session.execute(select(BillRun).where(BillRun.id == run_id))
                   ).scalar_one()
        assert (run.state, run.bills, run.held, str(run.total)) == ("done", 10, 1, "7601.93")
    finally:
        await engine.dispose()
