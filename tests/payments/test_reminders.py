"""Reminders: scheduled once each (7 and 1 days before, overdue after), sent by a pluggable
sender with retries and backoff, never twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.billing.tables import Bill
from cloud.payments.reminders import LogSender, Outgoing, dispatch_due, schedule_reminders
from cloud.payments.tables import Notification
from tests.payments.conftest import Community, build


class Flaky:
    """Fails the first ``fails`` attempts of each message, then delivers."""

    def __init__(self, fails: int) -> None:
        self.fails = fails
        self.tries: dict[int, int] = {}
        self.delivered: list[tuple[int, str, str]] = []

    async def send(self, message: Outgoing) -> None:
        self.tries[message.id] = self.tries.get(message.id, 0) + 1
        if self.tries[message.id] <= self.fails:
            raise ConnectionError("SMS gateway timeout")
        self.delivered.append((message.id, message.template, message.recipient))


@pytest.fixture
async def plain(sessions: async_sessionmaker[AsyncSession]) -> Community:
    return await build(sessions, None)


async def _schedule(c: Community, day: date) -> int:
    async with c.sessions() as s, s.begin():
        return await schedule_reminders(s, c.site_id, day)


async def test_each_reminder_is_scheduled_once(plain: Community) -> None:
    c = plain
    later = await c.bill("1-101", "2026-11", date(2026, 12, 15), [("charge", "property", "1")])
    soon = await c.bill("2-101", "2026-11", date(2026, 12, 3), [("charge", "property", "1")])
    assert await _schedule(c, date(2026, 12, 1)) == 1  # soon: 7 days before (missed 11-26)
    assert await _schedule(c, date(2026, 12, 1)) == 0
    assert await _schedule(c, date(2026, 12, 2)) == 1  # soon: 1 day before
    assert await _schedule(c, date(2026, 12, 8)) == 2  # later: 7 days; soon: overdue
    assert await _schedule(c, date(2026, 12, 9)) == 0
    async with c.sessions() as s:
        rows = (await s.execute(select(Notification.bill_id, Notification.template,
                                       Notification.recipient)
                                .order_by(Notification.id))).all()
    assert [tuple(r) for r in rows][:2] == [
        (soon, "bill_due_in_7d", f"unit:{c.units['2-101']}"),
        (soon, "bill_due_in_1d", f"unit:{c.units['2-101']}")]
    assert {tuple(r) for r in rows[2:]} == {
        (later, "bill_due_in_7d", "resident:1"),
        (soon, "bill_overdue", f"unit:{c.units['2-101']}")}


async def test_failures_are_retried_with_backoff_and_sent_once(plain: Community) -> None:
    c = plain
    for unit in c.units:
        await c.bill(unit, "2026-11", date(2026, 12, 3), [("charge", "property", "1")])
    await _schedule(c, date(2026, 12, 2))
    now = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 09:00 Shanghai: due
    sender = Flaky(fails=2)
    assert await dispatch_due(c.sessions, sender, now) == {
        "sent": 0, "retried": 3, "failed": 0, "skipped": 0}
    assert (await dispatch_due(c.sessions, sender, now + timedelta(seconds=59)))["retried"] == 0
    assert (await dispatch_due(c.sessions, sender, now + timedelta(seconds=60)))["retried"] == 3
    # Second backoff is twice the first: 120 s after the second attempt.
    assert (await dispatch_due(c.sessions, sender, now + timedelta(seconds=179)))["sent"] == 0
    assert (await dispatch_due(c.sessions, sender, now + timedelta(seconds=180)))["sent"] == 3
    assert (await dispatch_due(c.sessions, sender, now + timedelta(days=1)))["sent"] == 0
    assert len(sender.delivered) == 3 and len({d[0] for d in sender.delivered}) == 3
    async with c.sessions() as s:
        rows = (await s.scalars(select(Notification))).all()
    assert {(n.state, n.attempts) for n in rows} == {("sent", 3)}
    assert all(n.last_error == "ConnectionError: SMS gateway timeout" for n in rows)


async def test_gives_up_after_max_attempts_and_skips_paid_bills(plain: Community) -> None:
    c = plain
    dead = await c.bill("1-101", "2026-11", date(2026, 12, 3), [("charge", "property", "1")])
    paid = await c.bill("1-102", "2026-11", date(2026, 12, 3), [("charge", "property", "1")])
    await _schedule(c, date(2026, 12, 2))
    async with c.sessions() as s, s.begin():
        bill = await s.get(Bill, paid)
        assert bill is not None
        bill.state = "paid"
    now = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    sender = Flaky(fails=99)
    first = await dispatch_due(c.sessions, sender, now, max_attempts=2)
    assert (first["retried"], first["skipped"]) == (1, 1)
    last = await dispatch_due(c.sessions, sender, now + timedelta(hours=1), max_attempts=2)
    assert last["failed"] == 1
    assert await dispatch_due(c.sessions, sender, now + timedelta(days=9)) == {
        "sent": 0, "retried": 0, "failed": 0, "skipped": 0}
    async with c.sessions() as s:
        states = dict((await s.execute(select(Notification.bill_id, Notification.state))).all())
    assert states == {dead: "failed", paid: "skipped"}


async def test_log_sender_is_the_default(plain: Community) -> None:
    c = plain
    await c.bill("1-101", "2026-11", date(2026, 12, 3), [("charge", "property", "1")])
    await _schedule(c, date(2026, 12, 2))
    got = await dispatch_due(c.sessions, LogSender(), datetime(2026, 12, 2, 1, tzinfo=UTC))
    assert got["sent"] == 1
