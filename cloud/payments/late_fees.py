"""Late fees (滞纳金) on overdue bills, and how a bill's payments split into its parts.

Payments pay a bill's principal first (its charge, discount and adjustment lines, fee item by
fee item in line order) and its late fee last, so the principal that late fees accrue on
shrinks as soon as anything is paid. That makes the split a pure function of ``Bill.paid``
(``BillParts.split``) and lets statistics say which fee item a payment paid.

A fee item's ``late_fee`` rule ``{"daily_rate": "0.0003", "grace_days": 15, "cap": "1"}``
charges, for each day after ``due_date + grace_days`` (site-local dates) up to ``as_of``,
the principal of that fee item still unpaid at the start of the day × the daily rate; the
sum per fee item is capped at cap × its principal, and the bill's total is rounded once,
ROUND_HALF_UP to the fen. A payment made on day d stops accrual from day d + 1, so assessing
again after a payment never lowers a fee that was just collected. A bill carries one
``late_fee`` line, rewritten on each assessment: the same ``as_of`` always gives the same
amount. Held and void bills are never charged; paid bills are settled and left alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, record, snapshot
from cloud.billing.tables import Bill, BillLine, FeeItem
from cloud.db.models import Site
from cloud.payments.tables import Payment, PaymentAllocation

log = structlog.get_logger(__name__)

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
LATE_FEE_CODE = "late_fee"
#: States a payment or a late fee may touch.
PAYABLE_STATES = ("open", "partial")
_BILL_FIELDS = ("state", "total", "paid")


def fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def site_zone(site: Site) -> ZoneInfo:
    try:
        return ZoneInfo(site.timezone or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def local_date(ts: datetime, site: Site) -> date:
    return ts.astimezone(site_zone(site)).date()


def bill_state(bill: Bill) -> str:
    """The state ``paid`` implies for an issued bill (held and void stay as they are)."""
    if bill.state in ("held", "void"):
        return bill.state
    if bill.paid >= bill.total:
        return "paid"
    return "partial" if bill.paid > 0 else "open"


@dataclass
class BillParts:
    """A bill's principal per fee code (in line order) and its late fee."""

    principal_by_fee: dict[str, Decimal] = field(default_factory=dict)
    late_fee: Decimal = ZERO

    @property
    def principal(self) -> Decimal:
        return sum(self.principal_by_fee.values(), ZERO)

    def split(self, paid: Decimal) -> tuple[dict[str, Decimal], Decimal]:
        """What ``paid`` covers: per fee code, then the late fee (principal first)."""
        principal = self.principal
        on_principal = min(paid, principal) if principal > 0 else ZERO
        # Negative codes (a discount billed under its own code) are "collected" by being
        # billed; the positive codes share what was paid plus those reductions, in order.
        left = on_principal + sum((-v for v in self.principal_by_fee.values() if v < 0), ZERO)
        out: dict[str, Decimal] = {}
        for code, net in self.principal_by_fee.items():
            if net <= 0:
                out[code] = net
                continue
            take = min(left, net)
            out[code] = take
            left -= take
        return out, max(paid - on_principal, ZERO) if principal > 0 else max(paid, ZERO)


def bill_parts(lines: Sequence[BillLine]) -> BillParts:
    parts = BillParts()
    for line in sorted(lines, key=lambda ln: ln.id or 0):
        if line.kind == "late_fee":
            parts.late_fee += line.amount
        else:
            parts.principal_by_fee[line.fee_code] = (
                parts.principal_by_fee.get(line.fee_code, ZERO) + line.amount)
    return parts


@dataclass(frozen=True)
class LateFeeRule:
    daily_rate: Decimal
    grace_days: int
    cap: Decimal

    @classmethod
    def parse(cls, raw: Any) -> LateFeeRule | None:
        if not isinstance(raw, dict):
            return None
        try:
            rate = Decimal(str(raw["daily_rate"]))
            grace = int(raw.get("grace_days", 0))
            cap = Decimal(str(raw.get("cap", "1")))
        except (KeyError, TypeError, ValueError, InvalidOperation):
            return None
        if not (rate.is_finite() and cap.is_finite()) or rate < 0 or cap < 0 or grace < 0:
            return None
        return cls(rate, grace, cap)


async def late_fee_rules(session: AsyncSession, site_id: int) -> dict[str, LateFeeRule]:
    """Fee code → late-fee rule for the site's fee items that charge one."""
    items = (await session.scalars(select(FeeItem).where(
        FeeItem.site_id == site_id, FeeItem.late_fee.is_not(None)))).all()
    rules: dict[str, LateFeeRule] = {}
    for item in items:
        rule = LateFeeRule.parse(item.late_fee)
        if rule is None:
            log.warning("late_fee.bad_rule", fee_item=item.id, code=item.code)
            continue
        rules[item.code] = rule
    return rules


def compute_late_fee(parts: BillParts, rules: dict[str, LateFeeRule], due: date,
                     payments: Sequence[tuple[date, Decimal]],
                     as_of: date) -> tuple[Decimal, dict[str, Any]]:
    """The bill's late fee as of ``as_of`` (rounded) and, per fee code, how it was reached.

    ``payments``: (site-local date, amount) of every allocation to the bill, reversals too.
    """
    detail: dict[str, Any] = {}
    total = Decimal(0)
    pays = sorted(payments)
    for code, net in parts.principal_by_fee.items():
        rule = rules.get(code)
        if rule is None or net <= 0:
            continue
        free_until = due + timedelta(days=rule.grace_days)
        if as_of <= free_until:
            continue
        raw = Decimal(0)
        first, stop = free_until + timedelta(days=1), as_of + timedelta(days=1)
        # The unpaid principal changes the day after each payment.
        changes = sorted({d + timedelta(days=1) for d, _ in pays
                          if first < d + timedelta(days=1) < stop})
        bounds = [first, *changes, stop]
        for start, end in pairwise(bounds):
            paid = sum((a for d, a in pays if d < start), Decimal(0))
            unpaid = net - parts.split(paid)[0].get(code, ZERO)
            raw += unpaid * rule.daily_rate * (end - start).days
        cap = net * rule.cap
        charged = min(raw, cap)
        total += charged
        detail[code] = {"principal": str(net), "daily_rate": str(rule.daily_rate),
                        "grace_days": rule.grace_days,
                        "from": (free_until + timedelta(days=1)).isoformat(),
                        "to": as_of.isoformat(), "days": (as_of - free_until).days,
                        "accrued": str(raw), "cap": str(fen(cap)), "capped": raw > cap}
    return fen(total), detail


async def _bill_inputs(session: AsyncSession, site: Site, ids: Sequence[int]
                       ) -> tuple[dict[int, list[BillLine]], dict[int, list[tuple[date, Decimal]]]]:
    """The lines and the (site-local date, amount) allocations of each bill in ``ids``."""
    lines: dict[int, list[BillLine]] = defaultdict(list)
    for line in (await session.scalars(select(BillLine).where(
            BillLine.bill_id.in_(ids)).order_by(BillLine.id))).all():
        lines[line.bill_id].append(line)
    pays: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for alloc, received in (await session.execute(
            select(PaymentAllocation, Payment.received_at)
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(PaymentAllocation.bill_id.in_(ids)))).all():
        pays[alloc.bill_id].append((local_date(received, site), alloc.amount))
    return lines, pays


async def totals_as_of(session: AsyncSession, *, site: Site, bills: Sequence[Bill],
                       as_of: date) -> dict[int, Decimal]:
    """Bill id → its total with the late fee of ``as_of``, changing nothing: the desk shows
    the debt a payment made today would meet (a payment assesses first, then allocates)."""
    bills = [b for b in bills if b.state in PAYABLE_STATES and b.due_date < as_of]
    rules = await late_fee_rules(session, site.id) if bills else {}
    if not rules:
        return {}
    lines, pays = await _bill_inputs(session, site, [b.id for b in bills])
    out: dict[int, Decimal] = {}
    for bill in bills:
        parts = bill_parts(lines[bill.id])
        fee, _ = compute_late_fee(parts, rules, bill.due_date, pays[bill.id], as_of)
        out[bill.id] = parts.principal + max(fee, bill.paid - parts.principal, ZERO)
    return out


async def assess_bills(session: AsyncSession, *, site: Site, bills: Sequence[Bill], as_of: date,
                       now: datetime, actor: Actor,
                       rules: dict[str, LateFeeRule] | None = None) -> int:
    """Bring the late-fee line of each of ``bills`` (open or partial) up to date."""
    bills = [b for b in bills if b.state in PAYABLE_STATES and b.due_date < as_of]
    if not bills:
        return 0
    if rules is None:
        rules = await late_fee_rules(session, site.id)
    if not rules:
        return 0
    lines, pays = await _bill_inputs(session, site, [b.id for b in bills])
    changed = 0
    for bill in bills:
        parts = bill_parts(lines[bill.id])
        fee, detail = compute_late_fee(parts, rules, bill.due_date, pays[bill.id], as_of)
        # Never below what has already been collected as late fee.
        fee = max(fee, bill.paid - parts.principal, ZERO)
        current = next((ln for ln in lines[bill.id] if ln.kind == "late_fee"), None)
        if (current.amount if current else ZERO) == fee:
            continue
        before = snapshot(bill, _BILL_FIELDS)
        days = max((d["days"] for d in detail.values()), default=0)
        rates = {d["daily_rate"] for d in detail.values()}
        source = {"as_of": as_of.isoformat(), "by_fee": detail}
        description = f"滞纳金（逾期 {days} 天）/ late fee ({days} days overdue)"
        if current is None:
            current = BillLine(bill_id=bill.id, kind="late_fee", fee_item_id=None,
                               fee_code=LATE_FEE_CODE, description=description,
                               quantity=Decimal(days),
                               unit_price=Decimal(rates.pop()) if len(rates) == 1 else ZERO,
                               amount=fee, source=source, created_at=now)
            session.add(current)
        else:
            current.amount = fee
            current.quantity = Decimal(days)
            current.unit_price = Decimal(rates.pop()) if len(rates) == 1 else ZERO
            current.description = description
            current.source = source
        bill.total = parts.principal + fee
        bill.state = bill_state(bill)
        bill.updated_at = now
        record(session, at=now, actor=actor, action="late_fee", entity="bill", entity_id=bill.id,
               site_id=bill.site_id, before=before, after=snapshot(bill, _BILL_FIELDS),
               detail={"as_of": as_of.isoformat(), "late_fee": str(fee)})
        changed += 1
    await session.flush()
    return changed


async def assess_late_fees(session: AsyncSession, *, site_id: int, as_of: date, now: datetime,
                           actor: Actor) -> int:
    """Bring each overdue bill's late-fee line up to date as of the site-local date ``as_of``
    (daily rate after the grace days, capped), inside the caller's transaction; idempotent
    for the same ``as_of``. Returns how many bills changed."""
    site = await session.get(Site, site_id)
    if site is None:
        return 0
    rules = await late_fee_rules(session, site_id)
    if not rules:
        return 0
    bills = (await session.scalars(select(Bill).where(
        Bill.site_id == site_id, Bill.state.in_(PAYABLE_STATES), Bill.due_date < as_of)
        .order_by(Bill.id).with_for_update())).all()
    return await assess_bills(session, site=site, bills=bills, as_of=as_of, now=now,
                              actor=actor, rules=rules)
