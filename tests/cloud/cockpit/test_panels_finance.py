"""The finance panel shows the finance pages' figures: this month's collection and arrears by
building, on both databases (the community of tests/payments/conftest.py).

As of 2026-12-01 … 2026-12-31 (Asia/Shanghai), payments taken through ``record_payment``:

| bill | unit  | period  | due   | lines                       | paid | state   |
|------|-------|---------|-------|-----------------------------|------|---------|
| A    | 1-101 | 2026-11 | 11-25 | property 300, late fee 3    | 0    | open    |
| B    | 1-102 | 2026-11 | 11-25 | property 200, water 40      | 240  | paid    |
| C    | 2-101 | 2026-11 | 11-28 | property 400, discount −40  | 90   | partial |
| D    | 1-101 | 2026-12 | 12-20 | property 300                | 100  | partial |
| E    | 1-102 | 2026-12 | 12-20 | property 999                | —    | void    |
| F    | 2-101 | 2026-12 | 12-20 | property 500.50             | 0    | open    |

December (principal, void excluded): billed 300 + 500.50 = 800.50, collected 100,
rate 100 / 800.50 = 0.12492… → 12.49 %. Arrears on 2026-12-15 (overdue only, late fee
included): building 1 = A 303.00; building 2 = C 270.00. On 2026-12-21 (D and F overdue too):
building 2 = 270 + 500.50 = 770.50, building 1 = 303 + 200 = 503.00.
The month turns at the site's midnight: 2026-12-31T15:59:59Z is still December,
16:00:00Z is January (nothing billed: no rate).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.audit import SYSTEM
from cloud.cockpit.panels.finance import finance_panel
from cloud.cockpit.panels.registry import PanelContext
from cloud.db.models import Site
from cloud.payments.service import record_payment
from cloud.records.tables import Unit
from tests.payments.conftest import T0, Community, build

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _pay(c: Community, unit: str, amount: str, bills: list[int]) -> None:
    async with c.sessions() as s, s.begin():
        site, u = await s.get(Site, c.site_id), await s.get(Unit, c.units[unit])
        assert site is not None and u is not None
        await record_payment(s, site=site, unit=u, amount=Decimal(amount), method="cash",
                             key=f"{unit}-{amount}", now=T0, actor=SYSTEM, bill_ids=bills)


async def _world(c: Community) -> None:
    nov, dec = date(2026, 11, 25), date(2026, 12, 20)
    await c.bill("1-101", "2026-11", nov, [("charge", "property", "300.00"),
                                          ("late_fee", "late_fee", "3.00")])
    b = await c.bill("1-102", "2026-11", nov, [("charge", "property", "200.00"),
                                              ("charge", "water", "40.00")])
    cc = await c.bill("2-101", "2026-11", date(2026, 11, 28),
                      [("charge", "property", "400.00"), ("discount", "property", "-40.00")])
    d = await c.bill("1-101", "2026-12", dec, [("charge", "property", "300.00")])
    await c.bill("1-102", "2026-12", dec, [("charge", "property", "999.00")], state="void")
    await c.bill("2-101", "2026-12", dec, [("charge", "property", "500.50")])
    await _pay(c, "1-102", "240.00", [b])
    await _pay(c, "2-101", "90.00", [cc])
    await _pay(c, "1-101", "100.00", [d])


async def _panel(c: Community, now: datetime) -> dict[str, Any]:
    async with c.sessions() as s:
        return await finance_panel(PanelContext(s, c.site_id, "demo", SHANGHAI, now))


async def test_collection_and_arrears_are_the_finance_pages_figures(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    c = await build(sessions, None)
    await _world(c)
    mid = await _panel(c, datetime(2026, 12, 15, 2, 0, tzinfo=UTC))
    assert mid == {"empty": False, "period": "2026-12", "billed": "800.50",
                   "collected": "100.00", "collection_rate": 12.49,
                   "arrears_by_building": [
                       {"building": "1", "name": "1号楼", "arrears": "303.00"},
                       {"building": "2", "name": "2号楼", "arrears": "270.00"}]}
    late = await _panel(c, datetime(2026, 12, 21, 2, 0, tzinfo=UTC))
    assert late["arrears_by_building"] == [
        {"building": "2", "name": "2号楼", "arrears": "770.50"},
        {"building": "1", "name": "1号楼", "arrears": "503.00"}]
    last = await _panel(c, datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC))
    assert (last["period"], last["billed"], last["collection_rate"]) == (
        "2026-12", "800.50", 12.49)
    january = await _panel(c, datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC))
    assert (january["period"], january["billed"], january["collected"],
            january["collection_rate"]) == ("2027-01", "0.00", "0.00", None)
    assert january["empty"] is False  # the arrears are still there to show


async def test_a_site_without_bills_is_empty(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    c = await build(sessions, None)
    got = await _panel(c, datetime(2026, 12, 15, 2, 0, tzinfo=UTC))
    assert got == {"empty": True, "period": "2026-12", "billed": "0.00", "collected": "0.00",
                   "collection_rate": None, "arrears_by_building": []}
