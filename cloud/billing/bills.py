"""Changing an issued or held bill: void, adjust (红冲 / correction), release after review.

Bills are never deleted. Each change is one transaction with its audit row: voiding keeps the
bill with ``void`` and the reason (only when nothing is paid) and frees its temporary-parking
charges for the next run; an adjustment adds a line (negative or positive) with its reason;
releasing a held bill may replace a metered fee's lines with ones computed from a corrected
consumption, then issues it and offers it to the prepaid balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, record, snapshot
from cloud.billing.compute import Item, metered_lines
from cloud.billing.fee_items import parse_rule
from cloud.billing.money import fen, qty
from cloud.billing.periods import parse_period
from cloud.billing.settle import Settle
from cloud.billing.tables import Bill, BilledCharge, BillLine, FeeItem

BILL_FIELDS = ("state", "total", "paid", "hold_reasons", "void_reason", "issued_at")


class BillRefused(Exception):
    """A change the bill's state does not allow (409) or a bad value (400), field named."""

    def __init__(self, status: int, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.status, self.field, self.zh, self.en = status, field, zh, en


def _state_after(bill: Bill) -> str:
    if bill.state in ("held", "void"):
        return bill.state
    if bill.paid >= bill.total:
        return "paid"
    return "partial" if bill.paid > 0 else "open"


async def void_bill(session: AsyncSession, bill: Bill, reason: str, actor: Actor,
                    now: datetime) -> None:
    if bill.state == "void":
        raise BillRefused(409, "state", f"账单 {bill.number} 已作废", f"bill {bill.number} is "
                                                                   f"already void")
    if bill.paid != 0:
        raise BillRefused(409, "paid", f"账单 {bill.number} 已收款 {bill.paid} 元，不能作废；"
                          "请先冲正收款或做红冲调整",
                          f"bill {bill.number} has {bill.paid} paid and cannot be voided; "
                          "reverse the payment or adjust the bill instead")
    before = snapshot(bill, BILL_FIELDS)
    bill.state, bill.void_reason, bill.updated_at = "void", reason, now
    await session.execute(delete(BilledCharge).where(BilledCharge.bill_id == bill.id))
    record(session, at=now, actor=actor, action="void", entity="bill", entity_id=bill.id,
           site_id=bill.site_id, before=before, after=snapshot(bill, BILL_FIELDS),
           detail={"reason": reason})


async def adjust_bill(session: AsyncSession, bill: Bill, amount: Decimal, reason: str,
                      fee_code: str | None, actor: Actor, now: datetime) -> BillLine:
    if bill.state == "void":
        raise BillRefused(409, "state", f"账单 {bill.number} 已作废，不能调整",
                          f"bill {bill.number} is void and cannot be adjusted")
    if amount == 0 or amount != fen(amount):
        raise BillRefused(400, "amount", "调整金额须为非零、最多两位小数的金额",
                          "the adjustment must be a non-zero amount with at most 2 decimals")
    if bill.total + amount < bill.paid:
        raise BillRefused(409, "amount", f"调整后合计 {bill.total + amount} 将低于已收 "
                          f"{bill.paid}；请先冲正收款", f"the total after adjustment "
                          f"({bill.total + amount}) would be below what is paid "
                          f"({bill.paid}); reverse the payment first")
    if bill.total + amount < 0:
        raise BillRefused(409, "amount", "调整后合计不能为负", "the total cannot become negative")
    before = snapshot(bill, BILL_FIELDS)
    line = BillLine(bill_id=bill.id, kind="adjustment", fee_item_id=None,
                    fee_code=(fee_code or "adjustment")[:32],
                    description=f"调整 / adjustment: {reason}"[:200], quantity=Decimal(1),
                    unit_price=amount, amount=amount,
                    source={"reason": reason, "by": actor.ref, "at": now.isoformat()},
                    created_at=now)
    session.add(line)
    bill.total = bill.total + amount
    bill.state = _state_after(bill)
    bill.updated_at = now
    await session.flush()
    record(session, at=now, actor=actor, action="adjust", entity="bill", entity_id=bill.id,
           site_id=bill.site_id, before=before, after=snapshot(bill, BILL_FIELDS),
           detail={"reason": reason, "amount": amount, "line_id": line.id})
    return line


async def release_bill(session: AsyncSession, bill: Bill, note: str,
                       corrections: Mapping[str, Decimal], actor: Actor, now: datetime,
                       settle: Settle | None = None) -> None:
    """Issue a held bill after review; ``corrections`` (fee code → consumption) replace the
    lines of those metered fees; ``settle`` pays it from the unit's prepaid balance."""
    if bill.state != "held":
        raise BillRefused(409, "state", f"账单 {bill.number} 未被暂扣（当前 {bill.state}）",
                          f"bill {bill.number} is not held (it is {bill.state})")
    before = snapshot(bill, BILL_FIELDS)
    lines = list((await session.execute(select(BillLine).where(
        BillLine.bill_id == bill.id).order_by(BillLine.id))).scalars())
    replaced: dict[str, Any] = {}
    for code, consumption in corrections.items():
        old = [ln for ln in lines if ln.fee_code == code and ln.kind == "charge"]
        fee = (await session.execute(select(FeeItem).where(
            FeeItem.site_id == bill.site_id, FeeItem.code == code))).scalar_one_or_none()
        if fee is None or fee.kind != "metered" or not old:
            raise BillRefused(400, f"corrections.{code}"[:60],
                              f"账单上没有计量收费项目 {code}",
                              f"the bill has no metered fee {code}")
        item = Item(fee.id, fee.code, fee.name, fee.kind, parse_rule(fee.kind, fee.cycle,
                                                                        fee.rule), fee.due_days)
        months = parse_period(bill.cycle, bill.period).months
        source = dict(old[0].source)
        source.update({"corrected_from": source.get("consumption"),
                       "consumption": str(qty(consumption)), "corrected_by": actor.ref,
                       "note": note})
        new = metered_lines(item, qty(consumption), months, source)
        for ln in old:
            await session.delete(ln)
        for data in new:
            session.add(BillLine(bill_id=bill.id, created_at=now, **data))
        replaced[code] = {"from": [str(ln.amount) for ln in old],
                          "to": [str(d["amount"]) for d in new],
                          "consumption": str(qty(consumption))}
        lines = [ln for ln in lines if ln not in old]
        bill.total = bill.total - sum((ln.amount for ln in old), Decimal(0)) + sum(
            (d["amount"] for d in new), Decimal(0))
    bill.state, bill.issued_at, bill.updated_at = "open", now, now
    bill.state = _state_after(bill)
    await session.flush()
    record(session, at=now, actor=actor, action="release", entity="bill", entity_id=bill.id,
           site_id=bill.site_id, before=before, after=snapshot(bill, BILL_FIELDS),
           detail={"note": note, "corrections": replaced})
    if settle is not None:
        await settle(session, site_id=bill.site_id, now=now, actor=actor, bill_ids=[bill.id])
