"""Prepaid balances (预存款) applied to bills.

A unit's balance is the sum of its ledger entries (``prepaid_entries``): deposits from
payment surpluses (+), amounts applied to bills (−), reversals (±). It never goes below zero:
every entry that takes money off is written under the unit's lock after checking the sum.
Applying a balance is recorded like a payment (method ``prepaid``, allocations per bill) so a
bill's history reads the same whichever way it was paid; it gets no receipt of its own — the
money was receipted when it was deposited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, record, snapshot
from cloud.billing.tables import Bill
from cloud.db.models import Site
from cloud.payments.late_fees import PAYABLE_STATES, ZERO, assess_bills, local_date
from cloud.payments.service import (
    PAYMENT_FIELDS,
    _lines_by_bill,
    allocate,
    balance_of,
    lock_unit,
)
from cloud.payments.tables import Payment, PrepaidEntry


async def apply_prepaid(session: AsyncSession, *, site_id: int, now: datetime, actor: Actor,
                        bill_ids: Sequence[int] | None = None) -> int:
    """Pay open bills of the site (or only ``bill_ids``) from their units' prepaid balances,
    oldest due first, inside the caller's transaction; returns how many bills it touched."""
    site = await session.get(Site, site_id)
    if site is None:
        return 0
    sums = (await session.execute(
        select(PrepaidEntry.unit_id, func.sum(PrepaidEntry.amount))
        .where(PrepaidEntry.site_id == site_id).group_by(PrepaidEntry.unit_id)
        .having(func.sum(PrepaidEntry.amount) > 0).order_by(PrepaidEntry.unit_id))).all()
    touched = 0
    today = local_date(now, site)
    for unit_id, _ in sums:
        query = select(Bill).where(Bill.site_id == site_id, Bill.unit_id == unit_id,
                                   Bill.state.in_(PAYABLE_STATES))
        if bill_ids is not None:
            query = query.where(Bill.id.in_(list(bill_ids)))
        await lock_unit(session, unit_id)
        bills = list((await session.scalars(
            query.order_by(Bill.due_date, Bill.id).with_for_update())).all())
        if not bills:
            continue
        await assess_bills(session, site=site, bills=bills, as_of=today, now=now, actor=actor)
        balance = await balance_of(session, unit_id)  # re-read under the lock
        debt = sum((b.total - b.paid for b in bills if b.total > b.paid), ZERO)
        amount = min(balance, debt)
        if amount <= 0:
            continue
        payment = Payment(site_id=site_id, unit_id=unit_id, kind="payment", method="prepaid",
                          amount=amount, to_balance=ZERO, reference=None, payer=None,
                          idempotency_key=f"prepaid:{uuid.uuid4().hex}",
                          taken_by=actor.ref[:64], taken_by_name=actor.name[:100],
                          received_at=now)
        session.add(payment)
        await session.flush()
        lines = await _lines_by_bill(session, [b.id for b in bills])
        _, allocations = await allocate(session, payment=payment, bills=bills, amount=amount,
                                        now=now, actor=actor, lines=lines)
        for alloc in allocations:
            session.add(PrepaidEntry(site_id=site_id, unit_id=unit_id, kind="applied",
                                     amount=-alloc.amount, payment_id=payment.id,
                                     bill_id=alloc.bill_id, note=None, actor=actor.ref[:64],
                                     created_at=now))
        record(session, at=now, actor=actor, action="create", entity="payment",
               entity_id=payment.id, site_id=site_id, after=snapshot(payment, PAYMENT_FIELDS))
        touched += len(allocations)
    await session.flush()
    return touched
