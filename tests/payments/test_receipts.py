"""Receipt numbers without gaps (also under concurrent payments on PostgreSQL), amounts in
Chinese capital numerals, and every operation all-or-nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import cloud.payments.service as payments
from cloud.auth.audit import SYSTEM
from cloud.auth.tables import AuditEntry
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.payments.receipts import capital_yuan
from cloud.payments.service import record_payment, reverse_payment
from cloud.payments.tables import Payment, PaymentAllocation, PrepaidEntry, Receipt, ReceiptCounter
from cloud.records.tables import Unit
from tests.payments.conftest import LATE_FEE, T0, Community, build


@pytest.mark.parametrize(("amount", "words"), [
    ("123.45", "壹佰贰拾叁元肆角伍分"), ("100", "壹佰元整"), ("10.05", "壹拾元零伍分"),
    ("0.50", "伍角"), ("0.07", "柒分"), ("1005.00", "壹仟零伍元整"),
    ("100000", "壹拾万元整"), ("1000100.10", "壹佰万零壹佰元壹角"),
    ("100010000", "壹亿零壹万元整"), ("12000.3", "壹万贰仟元叁角"), ("0", "零元整"),
    ("-200", "负贰佰元整"), ("30004.56", "叁万零肆元伍角陆分"), ("1010", "壹仟零壹拾元整"),
])
def test_capital_numerals(amount: str, words: str) -> None:
    assert capital_yuan(Decimal(amount)) == words


async def _refs(c: Community, code: str) -> tuple[Site, Unit]:
    async with c.sessions() as s:
        site, unit = await s.get(Site, c.site_id), await s.get(Unit, c.units[code])
        assert site is not None and unit is not None
        return site, unit


async def _count(c: Community, model: Any) -> int:
    async with c.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_failure_mid_payment_leaves_nothing(community: Community,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    c = community
    bill = await c.bill("1-101", "2026-10", date(2026, 11, 1), [("charge", "property", "500.00")])
    site, unit = await _refs(c, "1-101")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(payments, "issue_receipt", broken)
    with pytest.raises(RuntimeError):
        async with c.sessions() as s, s.begin():
            await record_payment(s, site=site, unit=unit, amount=Decimal("600.00"),
                                 method="cash", key="k", now=T0, actor=SYSTEM, prepay=True)
    got = await c.get_bill(bill)
    # Not paid, and the late fee assessed inside the failed payment is gone too.
    assert (got.paid, got.total, got.state) == (Decimal("0.00"), Decimal("500.00"), "open")
    for model in (Payment, PaymentAllocation, PrepaidEntry, Receipt, AuditEntry):
        assert await _count(c, model) == 0, model
    monkeypatch.undo()
    async with c.sessions() as s, s.begin():
        p, _ = await record_payment(s, site=site, unit=unit, amount=Decimal("600.00"),
                                    method="cash", key="k", now=T0, actor=SYSTEM, prepay=True)
    assert p.receipt_number == "DEMO-2026-000001"


async def test_a_failure_mid_reversal_leaves_nothing(community: Community,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    c = community
    bill = await c.bill("1-101", "2026-11", date(2026, 12, 15), [("charge", "property", "80.00")])
    site, unit = await _refs(c, "1-101")
    async with c.sessions() as s, s.begin():
        p, _ = await record_payment(s, site=site, unit=unit, amount=Decimal("100.00"),
                                    method="cash", key="k", now=T0, actor=SYSTEM, prepay=True)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(payments, "issue_receipt", broken)
    with pytest.raises(RuntimeError):
        async with c.sessions() as s, s.begin():
            pay = await s.get(Payment, p.id)
            assert pay is not None
            await reverse_payment(s, site=site, payment=pay, reason="x", now=T0, actor=SYSTEM)
    got = await c.get_bill(bill)
    assert (got.paid, got.state) == (Decimal("80.00"), "paid")
    assert await _count(c, Payment) == 1 and await _count(c, PrepaidEntry) == 1
    assert await _count(c, Receipt) == 1


@pytest.fixture
async def pg_sessions(pg_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await migrate(pg_url)
    engine = make_engine(pg_url, pool_size=12)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def test_concurrent_payments_get_consecutive_numbers(
        pg_sessions: async_sessionmaker[AsyncSession]) -> None:
    c = await build(pg_sessions, LATE_FEE)
    codes = list(c.units)
    for code in codes:
        await c.bill(code, "2026-11", date(2026, 12, 15), [("charge", "property", "1000.00")])

    async def pay(i: int) -> str:
        site, unit = await _refs(c, codes[i % len(codes)])
        async with c.sessions() as s, s.begin():
            p, _ = await record_payment(s, site=site, unit=unit, amount=Decimal("10.00"),
                                        method="cash", key=f"k{i}", now=T0, actor=SYSTEM)
            await asyncio.sleep(0.01)  # hold the counter lock while others queue
            assert p.receipt_number is not None
            return p.receipt_number

    numbers = await asyncio.gather(*(pay(i) for i in range(30)))
    assert sorted(numbers) == [f"DEMO-2026-{n:06d}" for n in range(1, 31)]
    async with c.sessions() as s:
        assert (await s.scalars(select(ReceiptCounter.last))).all() == [30]
        paid = (await s.execute(select(func.sum(PaymentAllocation.amount)))).scalar_one()
    assert paid == Decimal("300.00")
