"""Late fee arithmetic on the real database: grace days, daily rate on the unpaid principal,
cap, rounding to the fen, idempotent per as_of, never on held or void bills."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.audit import SYSTEM
from cloud.billing.tables import BillLine
from cloud.db.models import Site
from cloud.payments.late_fees import assess_late_fees
from cloud.payments.service import record_payment
from cloud.records.tables import Unit
from tests.payments.conftest import T0, Community, build

DUE = date(2026, 11, 30)  # grace 15 days: free through 12-15, charged from 12-16


async def _assess(c: Community, as_of: date) -> int:
    async with c.sessions() as s, s.begin():
        return await assess_late_fees(s, site_id=c.site_id, as_of=as_of, now=T0, actor=SYSTEM)


async def _late_lines(c: Community, bill_id: int) -> list[Decimal]:
    async with c.sessions() as s:
        return list((await s.scalars(select(BillLine.amount).where(
            BillLine.bill_id == bill_id, BillLine.kind == "late_fee"))).all())


async def test_grace_rate_and_idempotence(community: Community) -> None:
    c = community
    bill = await c.bill("1-101", "2026-11", DUE, [("charge", "property", "1000.00"),
                                                  ("charge", "water", "50.00")])
    assert await _assess(c, date(2026, 12, 15)) == 0  # last day of grace
    assert await _late_lines(c, bill) == []
    assert await _assess(c, date(2026, 12, 16)) == 1
    assert await _late_lines(c, bill) == [Decimal("0.30")]  # 1000 × 0.0003 × 1; water has none
    assert await _assess(c, date(2027, 1, 14)) == 1
    assert await _assess(c, date(2027, 1, 14)) == 0  # same as_of: nothing changes
    assert await _late_lines(c, bill) == [Decimal("9.00")]  # 30 days
    got = await c.get_bill(bill)
    assert (got.total, got.state) == (Decimal("1059.00"), "open")


async def test_partial_payment_lowers_the_accrual_from_the_next_day(
        community: Community) -> None:
    c = community
    bill = await c.bill("1-101", "2026-11", DUE, [("charge", "property", "1000.00")])
    paid_at = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)  # 12-20 10:00 Shanghai
    async with c.sessions() as s, s.begin():
        site = await s.get(Site, c.site_id)
        unit = await s.get(Unit, c.units["1-101"])
        assert site is not None and unit is not None
        await record_payment(s, site=site, unit=unit, amount=Decimal("400.00"),
                         method="cash", key="k", now=paid_at, actor=SYSTEM)
    # Assessed at payment time: 12-16..12-20 = 5 days on 1000 = 1.50, paid principal first.
    assert await _late_lines(c, bill) == [Decimal("1.50")]
    await _assess(c, date(2027, 1, 14))
    # + 12-21..01-14 = 25 days on 600 = 4.50
    assert await _late_lines(c, bill) == [Decimal("6.00")]
    got = await c.get_bill(bill)
    assert (got.total, got.paid, got.state) == (Decimal("1006.00"), Decimal("400.00"),
                                                "partial")


async def test_cap_rounding_and_untouchable_bills(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    c = await build(sessions, {"daily_rate": "0.0003", "grace_days": 0, "cap": "0.005"})
    capped = await c.bill("1-101", "2026-11", DUE, [("charge", "property", "1000.00")])
    odd = await c.bill("1-102", "2026-11", DUE, [("charge", "property", "333.33")])
    held = await c.bill("2-101", "2026-11", DUE, [("charge", "property", "1000.00")],
                        state="held")
    await _assess(c, date(2026, 12, 7))  # 7 days
    assert await _late_lines(c, odd) == [Decimal("0.70")]  # 0.699993 → 0.70 (half up)
    assert await _late_lines(c, capped) == [Decimal("2.10")]
    await _assess(c, date(2027, 6, 30))
    assert await _late_lines(c, capped) == [Decimal("5.00")]  # cap 0.5 % of 1000
    assert await _late_lines(c, held) == []
    assert (await c.get_bill(held)).total == Decimal("1000.00")


async def test_payment_after_due_collects_the_late_fee_of_today(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    c = await build(sessions, {"daily_rate": "0.0005", "grace_days": 0, "cap": "1"})
    bill = await c.bill("1-101", "2026-10", date(2026, 11, 21), [("charge", "property", "200.00")])
    # T0 is 12-01: 10 days × 200 × 0.0005 = 1.00
    async with c.sessions() as s, s.begin():
        site = await s.get(Site, c.site_id)
        unit = await s.get(Unit, c.units["1-101"])
        assert site is not None and unit is not None
        p, _ = await record_payment(s, site=site, unit=unit, amount=Decimal("201.00"),
                                    method="cash", key="k", now=T0, actor=SYSTEM)
        assert p.to_balance == 0
    got = await c.get_bill(bill)
    assert (got.total, got.paid, got.state) == (Decimal("201.00"), Decimal("201.00"), "paid")
    await _assess(c, date(2026, 12, 31))  # settled: stays as paid
    assert await _late_lines(c, bill) == [Decimal("1.00")]
