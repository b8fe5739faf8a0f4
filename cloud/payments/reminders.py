"""Payment reminders through a notification outbox, sent by pluggable senders.

``schedule_reminders`` writes, for each open or partly paid bill, a reminder N days before
its due date (N = 7 and 1 by default) and an overdue notice after it — each once: the row's
idempotency key is bill + kind + day and unique. When a run was missed, only the most
imminent reminder that is due is written (no 7-day and 1-day reminder on the same morning).
Messages are due at 09:00 site time on the day they were scheduled for.

``dispatch_due`` sends pending messages whose time has come, one transaction per message:
the row is marked sent in the transaction that sent it; a failure counts an attempt, keeps
the error and retries after an exponential backoff, until ``max_attempts`` marks it failed.
A message for a bill paid meanwhile is skipped. Recipients are references
("resident:12"); a sender resolves the address itself, so logs never show phone numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.billing.tables import Bill
from cloud.db.models import Site
from cloud.payments.late_fees import PAYABLE_STATES, site_zone
from cloud.payments.tables import Notification
from cloud.records.tables import Resident, Unit

log = structlog.get_logger(__name__)

DEFAULT_DAYS_BEFORE = (7, 1)
SEND_HOUR = time(9, 0)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What a sender gets: no personal data, only references and the bill's facts."""

    id: int
    channel: str
    recipient: str
    template: str
    payload: dict[str, Any]


class Sender(Protocol):
    """Delivers one message (SMS, app push…); raises on failure so it is retried."""

    async def send(self, message: Outgoing) -> None: ...


class LogSender:
    """The default sender: one structlog line per message (the recipient reference only)."""

    async def send(self, message: Outgoing) -> None:
        log.info("notification.sent", id=message.id, channel=message.channel,
                 recipient=message.recipient, template=message.template,
                 bill=message.payload.get("bill"), due_date=message.payload.get("due_date"))


async def _recipient(session: AsyncSession, unit_id: int) -> str:
    owner = (await session.execute(select(Resident.id).where(
        Resident.unit_id == unit_id, Resident.role == "owner", Resident.move_out.is_(None))
        .order_by(Resident.id).limit(1))).scalar_one_or_none()
    return f"resident:{owner}" if owner is not None else f"unit:{unit_id}"


async def schedule_reminders(session: AsyncSession, site_id: int, as_of: date, *,
                             days_before: Sequence[int] = DEFAULT_DAYS_BEFORE,
                             channel: str = "sms") -> int:
    """Add the reminders and overdue notices due by the site-local date ``as_of``, inside
    the caller's transaction; returns how many were new."""
    site = await session.get(Site, site_id)
    if site is None:
        return 0
    tz = site_zone(site)
    due_at = datetime.combine(as_of, SEND_HOUR, tzinfo=tz)
    rows = (await session.execute(select(Bill, Unit.code).join(Unit, Unit.id == Bill.unit_id)
                                  .where(Bill.site_id == site_id,
                                         Bill.state.in_(PAYABLE_STATES)))).all()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    created = 0
    for bill, unit_code in rows:
        if as_of > bill.due_date:
            kind, day = "overdue", bill.due_date + timedelta(days=1)
        else:
            ahead = [n for n in sorted(days_before) if bill.due_date - timedelta(days=n) <= as_of]
            if not ahead:
                continue
            kind = f"due_in_{ahead[0]}d"
            day = bill.due_date - timedelta(days=ahead[0])
        key = f"bill:{bill.id}:{kind}:{day.isoformat()}"
        payload = {"bill": bill.number, "bill_id": bill.id, "unit": unit_code,
                   "period": bill.period, "due_date": bill.due_date.isoformat(),
                   "amount_due": str(bill.total - bill.paid), "site": site.slug}
        result = await session.execute(insert(Notification).values(
            site_id=site_id, channel=channel, recipient=await _recipient(session, bill.unit_id),
            template=f"bill_{kind}", payload=payload, bill_id=bill.id, idempotency_key=key,
            due_at=due_at, state="pending", attempts=0, next_attempt_at=due_at,
            last_error=None, sent_at=None, created_at=due_at,
        ).on_conflict_do_nothing(index_elements=["idempotency_key"]))
        created += max(int(getattr(result, "rowcount", 0) or 0), 0)
    return created


async def dispatch_due(sessions: async_sessionmaker[AsyncSession], sender: Sender,
                       now: datetime, *, max_attempts: int = 5,
                       backoff_s: float = 60.0, limit: int = 500) -> dict[str, int]:
    """Send what is due by ``now``; returns counts of sent, retried, failed and skipped."""
    counts = {"sent": 0, "retried": 0, "failed": 0, "skipped": 0}
    async with sessions() as session:
        ids = list((await session.scalars(select(Notification.id).where(
            Notification.state == "pending", Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id).limit(limit))).all())
    for nid in ids:
        async with sessions() as session, session.begin():
            note = (await session.execute(select(Notification).where(
                Notification.id == nid, Notification.state == "pending")
                .with_for_update(skip_locked=True))).scalar_one_or_none()
            if note is None:
                continue
            bill = await session.get(Bill, note.bill_id) if note.bill_id else None
            if bill is not None and bill.state not in PAYABLE_STATES:
                note.state = "skipped"
                note.last_error = f"bill is {bill.state}"
                counts["skipped"] += 1
                continue
            note.attempts += 1
            try:
                await sender.send(Outgoing(note.id, note.channel, note.recipient,
                                           note.template, dict(note.payload)))
            except Exception as exc:  # any sender failure is retried
                note.last_error = f"{type(exc).__name__}: {exc}"[:500]
                if note.attempts >= max_attempts:
                    note.state = "failed"
                    counts["failed"] += 1
                else:
                    note.next_attempt_at = now + timedelta(
                        seconds=backoff_s * 2 ** (note.attempts - 1))
                    counts["retried"] += 1
                log.warning("notification.failed", id=note.id, recipient=note.recipient,
                            attempts=note.attempts, error=note.last_error)
                continue
            note.state = "sent"
            note.sent_at = now
            counts["sent"] += 1
    return counts
