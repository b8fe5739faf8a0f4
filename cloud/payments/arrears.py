"""Arrears (欠费) and the collection rate (收缴率).

Arrears are issued bills (open or partly paid) past their due date with something unpaid,
late fees included, summed per unit with the oldest due date and the days since then
(site-local). Filters narrow the bills: building code, period, fee item code (bills that
carry that fee item; the amounts stay the whole bills').

The collection rate of a period is collected ÷ billed over the bills of that period, held and
void bills excluded. Late fees count in neither: billed is each bill's principal (charges less
discounts, with adjustments), collected is the part of what was paid that went to principal
(payments pay principal first). By fee item, each bill's principal and what was paid of it are
split per fee code in line order (``late_fees.BillParts.split``). The rate is rounded
ROUND_HALF_UP to four places ("0.8333" = 83.33 %); null when nothing was billed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.billing.tables import Bill, BillLine, FeeItem
from cloud.payments.late_fees import PAYABLE_STATES, ZERO, bill_parts
from cloud.records.tables import Building, Resident, Unit

RATE_PLACES = Decimal("0.0001")
GROUPINGS = ("building", "fee", "period")


@dataclass
class ArrearsRow:
    unit_id: int
    unit: str
    building: str
    owner: str | None
    phone: str | None
    bills: int
    unpaid: Decimal
    oldest_due: date
    days_overdue: int
    periods: list[str]


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


async def _bills_with_fee(session: AsyncSession, site_id: int, fee: str) -> set[int]:
    return set((await session.scalars(select(BillLine.bill_id).join(
        Bill, Bill.id == BillLine.bill_id).where(Bill.site_id == site_id,
                                                 BillLine.fee_code == fee))).all())


async def arrears(session: AsyncSession, *, site_id: int, today: date,
                  building: str | None = None, period: str | None = None,
                  fee: str | None = None) -> list[ArrearsRow]:
    """Units with overdue unpaid bills, most owed first."""
    query = (select(Bill, Unit, Building).join(Unit, Unit.id == Bill.unit_id)
             .join(Building, Building.id == Unit.building_id)
             .where(Bill.site_id == site_id, Bill.state.in_(PAYABLE_STATES),
                    Bill.due_date < today, Bill.total > Bill.paid))
    if building is not None:
        query = query.where(Building.code == building)
    if period is not None:
        query = query.where(Bill.period == period)
    rows = (await session.execute(query.order_by(Bill.due_date, Bill.id))).all()
    if fee is not None:
        keep = await _bills_with_fee(session, site_id, fee)
        rows = [r for r in rows if r[0].id in keep]
    by_unit: dict[int, ArrearsRow] = {}
    for bill, unit, bld in rows:
        row = by_unit.get(unit.id)
        if row is None:
            row = by_unit[unit.id] = ArrearsRow(unit.id, unit.code, bld.code, None, None, 0,
                                                ZERO, bill.due_date,
                                                (today - bill.due_date).days, [])
        row.bills += 1
        row.unpaid += bill.total - bill.paid
        if bill.period not in row.periods:
            row.periods.append(bill.period)
    if by_unit:
        owners = (await session.execute(select(Resident).where(
            Resident.unit_id.in_(list(by_unit)), Resident.role == "owner",
            Resident.move_out.is_(None)).order_by(Resident.id))).scalars().all()
        for owner in owners:
            row = by_unit[owner.unit_id]
            if row.owner is None:
                row.owner, row.phone = owner.name, owner.phone
    return sorted(by_unit.values(), key=lambda r: (-r.unpaid, r.unit))


def rate(collected: Decimal, billed: Decimal) -> str | None:
    if billed == 0:
        return None
    return str((collected / billed).quantize(RATE_PLACES, rounding=ROUND_HALF_UP))


async def collection(session: AsyncSession, *, site_id: int, period: str | None,
                     by: str) -> list[dict[str, Any]]:
    """Billed, collected, outstanding and rate per building, fee item or period."""
    query = (select(Bill, Building.code, Building.name).join(Unit, Unit.id == Bill.unit_id)
             .join(Building, Building.id == Unit.building_id)
             .where(Bill.site_id == site_id, Bill.state.not_in(("held", "void"))))
    if period is not None:
        query = query.where(Bill.period == period)
    rows = (await session.execute(query)).all()
    lines: dict[int, list[BillLine]] = defaultdict(list)
    ids = [r[0].id for r in rows]
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for line in (await session.scalars(select(BillLine).where(
                BillLine.bill_id.in_(chunk)))).all():
            lines[line.bill_id].append(line)
    names: dict[str, str] = {}
    if by == "fee":
        names = {c: n for c, n in (await session.execute(select(FeeItem.code, FeeItem.name)
                                                         .where(FeeItem.site_id == site_id)))}
    billed: dict[str, Decimal] = defaultdict(lambda: ZERO)
    collected: dict[str, Decimal] = defaultdict(lambda: ZERO)
    labels: dict[str, str] = {}
    for bill, bcode, bname in rows:
        parts = bill_parts(lines[bill.id])
        if by == "fee":
            paid_by_fee, _ = parts.split(bill.paid)
            for code, net in parts.principal_by_fee.items():
                billed[code] += net
                collected[code] += paid_by_fee.get(code, ZERO)
                labels[code] = names.get(code, code)
            continue
        key = bcode if by == "building" else bill.period
        labels[key] = bname if by == "building" else bill.period
        billed[key] += parts.principal
        collected[key] += min(bill.paid, parts.principal) if parts.principal > 0 else ZERO
    out = []
    for key in sorted(billed):
        out.append({"key": key, "label": labels[key], "billed": str(billed[key]),
                    "collected": str(collected[key]),
                    "outstanding": str(billed[key] - collected[key]),
                    "rate": rate(collected[key], billed[key])})
    return out


def totals(groups: list[dict[str, Any]]) -> dict[str, Any]:
    b = sum((Decimal(g["billed"]) for g in groups), ZERO)
    c = sum((Decimal(g["collected"]) for g in groups), ZERO)
    return {"billed": str(b), "collected": str(c), "outstanding": str(b - c), "rate": rate(c, b)}
