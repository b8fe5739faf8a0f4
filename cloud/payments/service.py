"""Taking payments and reversing them (红冲), each in one transaction.

A payment pays the listed bills, or else the unit's open bills oldest due first (then by bill
id), each bill's principal before its late fee (``late_fees.BillParts``). Late fees of those
bills are brought up to date to the site-local day first, so the debt the cashier sees is the
debt of today. Paying more than the debt is refused naming ``amount`` unless the payer asks to
prepay: the surplus then goes to the unit's prepaid balance (预存款). The idempotency key is
unique per site: sending the same payment twice returns the first one and applies nothing.

A reversal never edits or deletes the payment: it adds a negative payment with negative
allocations, takes back what went to the prepaid balance, restores the bills' ``paid`` and
state and issues a red receipt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, record, snapshot
from cloud.billing.tables import Bill, BillLine, FeeItem
from cloud.db.models import Site
from cloud.payments.late_fees import (
    LATE_FEE_CODE,
    PAYABLE_STATES,
    ZERO,
    BillParts,
    assess_bills,
    bill_parts,
    bill_state,
    local_date,
)
from cloud.payments.receipts import issue_receipt
from cloud.payments.tables import Payment, PaymentAllocation, PrepaidEntry, Receipt
from cloud.records.tables import Unit

PAYMENT_FIELDS = ("kind", "method", "amount", "to_balance", "reference", "payer", "unit_id",
                  "reverses_id", "reason", "receipt_number", "received_at")
_BILL_FIELDS = ("state", "paid")


class Refused(Exception):
    """A payment request we turn down; the API turns it into an error naming ``field``."""

    def __init__(self, status: int, code: str, zh: str, en: str, field: str | None,
                 **extra: Any) -> None:
        super().__init__(en)
        self.status, self.code, self.zh, self.en, self.field = status, code, zh, en, field
        self.extra = extra


async def balance_of(session: AsyncSession, unit_id: int) -> Decimal:
    total = await session.scalar(select(func.coalesce(func.sum(PrepaidEntry.amount), 0))
                                 .where(PrepaidEntry.unit_id == unit_id))
    return Decimal(total or 0).quantize(Decimal("0.01"))


async def lock_unit(session: AsyncSession, unit_id: int) -> None:
    """Serialise money movements of one unit (FOR UPDATE on PostgreSQL)."""
    await session.execute(select(Unit.id).where(Unit.id == unit_id).with_for_update())


async def _lines_by_bill(session: AsyncSession, bill_ids: Sequence[int]
                         ) -> dict[int, list[BillLine]]:
    out: dict[int, list[BillLine]] = defaultdict(list)
    if bill_ids:
        for line in (await session.scalars(select(BillLine).where(
                BillLine.bill_id.in_(bill_ids)).order_by(BillLine.id))).all():
            out[line.bill_id].append(line)
    return out


async def _fee_names(session: AsyncSession, site_id: int) -> dict[str, str]:
    rows = (await session.execute(select(FeeItem.code, FeeItem.name)
                                  .where(FeeItem.site_id == site_id))).all()
    return {code: name for code, name in rows} | {LATE_FEE_CODE: "滞纳金 / late fee"}


def _delta(parts: BillParts, before: Decimal, after: Decimal) -> tuple[dict[str, str], Decimal,
                                                                       Decimal]:
    """Per fee code, principal and late fee that moving ``paid`` from before to after paid."""
    fees_b, late_b = parts.split(before)
    fees_a, late_a = parts.split(after)
    fees = {code: fees_a[code] - fees_b.get(code, ZERO) for code in fees_a}
    principal = sum(fees.values(), ZERO)
    late = late_a - late_b
    out = {code: str(v) for code, v in fees.items() if v != 0}
    if late != 0:
        out[LATE_FEE_CODE] = str(late)
    return out, principal, late


async def allocate(session: AsyncSession, *, payment: Payment, bills: Sequence[Bill],
                   amount: Decimal, now: datetime, actor: Actor,
                   lines: dict[int, list[BillLine]]) -> tuple[Decimal, list[PaymentAllocation]]:
    """Pay ``bills`` in order with up to ``amount``; returns what is left and the allocations."""
    left = amount
    allocations: list[PaymentAllocation] = []
    for bill in bills:
        due = bill.total - bill.paid
        if left <= 0:
            break
        if due <= 0:
            continue
        take = min(left, due)
        before = snapshot(bill, _BILL_FIELDS)
        fees, principal, late = _delta(bill_parts(lines[bill.id]), bill.paid, bill.paid + take)
        alloc = PaymentAllocation(payment_id=payment.id, bill_id=bill.id, amount=take,
                                  principal=principal, late_fee=late, fees=fees, created_at=now)
        session.add(alloc)
        allocations.append(alloc)
        bill.paid += take
        bill.state = bill_state(bill)
        bill.updated_at = now
        record(session, at=now, actor=actor, action="pay", entity="bill", entity_id=bill.id,
               site_id=bill.site_id, before=before, after=snapshot(bill, _BILL_FIELDS),
               detail={"payment_id": payment.id, "amount": str(take)})
        left -= take
    await session.flush()
    return left, allocations


def _receipt_lines(allocations: Sequence[PaymentAllocation], bills: dict[int, Bill],
                   names: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for alloc in allocations:
        bill = bills[alloc.bill_id]
        for code, amount in alloc.fees.items():
            out.append({"bill": bill.number, "bill_id": bill.id, "period": bill.period,
                        "fee_code": code, "fee_name": names.get(code, code), "amount": amount})
    return out


async def find_payment(session: AsyncSession, site_id: int, key: str) -> Payment | None:
    return (await session.execute(select(Payment).where(
        Payment.site_id == site_id, Payment.idempotency_key == key))).scalar_one_or_none()


async def record_payment(session: AsyncSession, *, site: Site, unit: Unit, amount: Decimal,
                         method: str, key: str, now: datetime, actor: Actor,
                         reference: str | None = None, payer: str | None = None,
                         bill_ids: Sequence[int] | None = None,
                         prepay: bool = False) -> tuple[Payment, bool]:
    """Take a payment inside the caller's transaction; ``(payment, replayed)``."""
    existing = await find_payment(session, site.id, key)
    if existing is not None:
        return existing, True
    await lock_unit(session, unit.id)
    if bill_ids:
        rows = {b.id: b for b in (await session.scalars(select(Bill).where(
            Bill.id.in_(list(bill_ids))).with_for_update())).all()}
        for bid in bill_ids:
            bill = rows.get(bid)
            if bill is None or bill.site_id != site.id or bill.unit_id != unit.id:
                raise Refused(422, "bill_not_of_unit", f"账单 {bid} 不存在或不属于房屋 {unit.code}",
                              f"bill {bid} does not exist or is not of unit {unit.code}", "bills")
            if bill.state not in PAYABLE_STATES:
                raise Refused(409, "bill_not_payable",
                              f"账单 {bill.number} 状态为 {bill.state}，不能收款",
                              f"bill {bill.number} is {bill.state} and cannot be paid", "bills",
                              state=bill.state)
        bills = sorted(rows.values(), key=lambda b: (b.due_date, b.id))
    else:
        bills = list((await session.scalars(select(Bill).where(
            Bill.unit_id == unit.id, Bill.state.in_(PAYABLE_STATES))
            .order_by(Bill.due_date, Bill.id).with_for_update())).all())
    today = local_date(now, site)
    await assess_bills(session, site=site, bills=bills, as_of=today, now=now, actor=actor)
    debt = sum((max(b.total - b.paid, ZERO) for b in bills), ZERO)
    if amount > debt and not prepay:
        raise Refused(422, "amount_exceeds_debt",
                      f"金额 {amount} 元超过欠款 {debt} 元；如需将多余部分存入预存款，"
                      "请勾选“多余部分存入预存款”",
                      f"the amount {amount} is more than the debt {debt}; tick “keep the surplus "
                      "as prepaid” to put the rest on the prepaid balance",
                      "amount", debt=str(debt))
    payment = Payment(site_id=site.id, unit_id=unit.id, kind="payment", method=method,
                      amount=amount, to_balance=ZERO, reference=reference, payer=payer,
                      idempotency_key=key, taken_by=actor.ref[:64],
                      taken_by_name=actor.name[:100], received_at=now)
    session.add(payment)
    await session.flush()
    lines = await _lines_by_bill(session, [b.id for b in bills])
    surplus, allocations = await allocate(session, payment=payment, bills=bills, amount=amount,
                                          now=now, actor=actor, lines=lines)
    if surplus > 0:
        payment.to_balance = surplus
        session.add(PrepaidEntry(site_id=site.id, unit_id=unit.id, kind="deposit",
                                 amount=surplus, payment_id=payment.id,
                                 note="收款余额转预存 / payment surplus", actor=actor.ref[:64],
                                 created_at=now))
    body = {"site_name": site.name or site.slug, "unit": unit.code, "payer": payer,
            "method": method, "reference": reference, "date": today.isoformat(),
            "to_balance": str(payment.to_balance),
            "lines": _receipt_lines(allocations, {b.id: b for b in bills},
                                    await _fee_names(session, site.id))}
    receipt = await issue_receipt(session, site=site, payment_id=payment.id, unit_id=unit.id,
                                  amount=amount, body=body, issued_by=actor.name, now=now,
                                  year=today.year)
    payment.receipt_number = receipt.number
    record(session, at=now, actor=actor, action="create", entity="payment",
           entity_id=payment.id, site_id=site.id, after=snapshot(payment, PAYMENT_FIELDS))
    await session.flush()
    return payment, False


async def reverse_payment(session: AsyncSession, *, site: Site, payment: Payment, reason: str,
                          now: datetime, actor: Actor) -> Payment:
    """Undo ``payment`` with a negative one (红冲) inside the caller's transaction."""
    if payment.kind != "payment":
        raise Refused(409, "not_reversible", "冲销记录不能再冲销",
                      "a reversal cannot itself be reversed", "id")
    await lock_unit(session, payment.unit_id)
    done = (await session.execute(select(Payment.id).where(
        Payment.reverses_id == payment.id))).scalar_one_or_none()
    if done is not None:
        raise Refused(409, "already_reversed", f"该收款已冲销（冲销记录 {done}）",
                      f"this payment was already reversed (by payment {done})", "id",
                      reversal_id=done)
    unit = await session.get(Unit, payment.unit_id)
    assert unit is not None
    balance = await balance_of(session, unit.id)
    if payment.to_balance > balance:
        raise Refused(409, "balance_used",
                      f"转入预存款的 {payment.to_balance} 元已被使用（余额 {balance}），"
                      "请先冲销使用预存款的收款",
                      f"the {payment.to_balance} put on the prepaid balance has been used "
                      f"(balance {balance}); reverse the payments made from it first", "id",
                      balance=str(balance))
    allocs = list((await session.scalars(select(PaymentAllocation).where(
        PaymentAllocation.payment_id == payment.id).order_by(PaymentAllocation.id))).all())
    bills = {b.id: b for b in (await session.scalars(select(Bill).where(
        Bill.id.in_([a.bill_id for a in allocs])).with_for_update())).all()}
    reversal = Payment(site_id=payment.site_id, unit_id=payment.unit_id, kind="reversal",
                       method=payment.method, amount=-payment.amount,
                       to_balance=-payment.to_balance, reference=payment.reference,
                       payer=payment.payer, idempotency_key=f"reverse:{payment.id}",
                       reverses_id=payment.id, reason=reason, taken_by=actor.ref[:64],
                       taken_by_name=actor.name[:100], received_at=now)
    session.add(reversal)
    await session.flush()
    negatives: list[PaymentAllocation] = []
    for alloc in allocs:
        bill = bills[alloc.bill_id]
        before = snapshot(bill, _BILL_FIELDS)
        bill.paid -= alloc.amount
        bill.state = bill_state(bill)
        bill.updated_at = now
        neg = PaymentAllocation(payment_id=reversal.id, bill_id=bill.id, amount=-alloc.amount,
                                principal=-alloc.principal, late_fee=-alloc.late_fee,
                                fees={k: str(-Decimal(v)) for k, v in alloc.fees.items()},
                                created_at=now)
        session.add(neg)
        negatives.append(neg)
        record(session, at=now, actor=actor, action="reverse", entity="bill", entity_id=bill.id,
               site_id=bill.site_id, before=before, after=snapshot(bill, _BILL_FIELDS),
               detail={"payment_id": payment.id, "reversal_id": reversal.id})
    if payment.to_balance != 0:
        session.add(PrepaidEntry(site_id=payment.site_id, unit_id=payment.unit_id,
                                 kind="reversal", amount=-payment.to_balance,
                                 payment_id=reversal.id, note=reason[:500],
                                 actor=actor.ref[:64], created_at=now))
    if payment.method == "prepaid":  # the money goes back on the balance it came from
        session.add(PrepaidEntry(site_id=payment.site_id, unit_id=payment.unit_id,
                                 kind="reversal", amount=payment.amount,
                                 payment_id=reversal.id, note=reason[:500],
                                 actor=actor.ref[:64], created_at=now))
    if payment.receipt_number is not None:
        original = (await session.execute(select(Receipt).where(
            Receipt.payment_id == payment.id))).scalar_one()
        today = local_date(now, site)
        body = {**original.body, "date": today.isoformat(), "reason": reason,
                "to_balance": str(-payment.to_balance),
                "lines": [{**ln, "amount": str(-Decimal(ln["amount"]))}
                          for ln in original.body.get("lines", [])]}
        receipt = await issue_receipt(session, site=site, payment_id=reversal.id,
                                      unit_id=payment.unit_id, amount=-payment.amount,
                                      body=body, issued_by=actor.name, now=now,
                                      year=today.year, reverses=payment.receipt_number)
        reversal.receipt_number = receipt.number
    record(session, at=now, actor=actor, action="reverse", entity="payment",
           entity_id=payment.id, site_id=payment.site_id,
           detail={"reason": reason, "reversal_id": reversal.id})
    record(session, at=now, actor=actor, action="create", entity="payment",
           entity_id=reversal.id, site_id=payment.site_id,
           after=snapshot(reversal, PAYMENT_FIELDS))
    await session.flush()
    return reversal


async def allocations_of(session: AsyncSession, payment_ids: Sequence[int]
                         ) -> dict[int, list[tuple[PaymentAllocation, Bill]]]:
    out: dict[int, list[tuple[PaymentAllocation, Bill]]] = defaultdict(list)
    if payment_ids:
        for alloc, bill in (await session.execute(
                select(PaymentAllocation, Bill).join(Bill, Bill.id == PaymentAllocation.bill_id)
                .where(PaymentAllocation.payment_id.in_(list(payment_ids)))
                .order_by(PaymentAllocation.id))).all():
            out[alloc.payment_id].append((alloc, bill))
    return out
