"""Payments and what they paid, prepaid balances, receipts and the notification outbox.

A payment (``payments``) is money taken for one unit; its ``payment_allocations`` say which
bills it paid and how much of each went to principal and to late fees. Nothing here is ever
deleted or edited after the fact: a wrong payment is reversed (红冲) by a second, negative
payment (``reverses_id``) with negative allocations and a negative (red) receipt.

Prepaid balances (预存款) are a ledger per unit (``prepaid_entries``): deposits are positive,
amounts applied to bills and refunds negative; the balance is the sum and never goes below
zero. Receipts are numbered per site and year without gaps from ``receipt_counters`` (one row
per site and year, locked while a number is taken).

``notifications`` is the outbox for reminders: a row per message, unique by its idempotency
key (bill + kind + day), sent by a dispatcher with retries; the recipient is a reference
("resident:12"), never a phone number.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import BigId, JsonDoc, Money, UTCDateTime

#: Methods staff record at the desk; ``prepaid`` is a payment made from the unit's balance.
PAYMENT_METHODS = ("cash", "card", "wechat", "alipay", "bank_transfer")
ALL_METHODS = (*PAYMENT_METHODS, "prepaid")
PAYMENT_KINDS = ("payment", "reversal")
LEDGER_KINDS = ("deposit", "applied", "refund", "reversal")
NOTIFICATION_STATES = ("pending", "sent", "failed", "skipped")


class Payment(Base):
    """Money received for a unit (or a reversal of such, with a negative amount)."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("site_id", "idempotency_key"),
                      UniqueConstraint("reverses_id"),
                      Index(None, "unit_id"), Index(None, "site_id", "received_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))  # PAYMENT_KINDS
    method: Mapped[str] = mapped_column(String(16))  # ALL_METHODS
    #: What was received (negative for a reversal); ``to_balance`` of it went to 预存款.
    amount: Mapped[Decimal] = mapped_column(Money)
    to_balance: Mapped[Decimal] = mapped_column(Money)
    #: The card slip, WeChat/Alipay transaction or bank transfer number.
    reference: Mapped[str | None] = mapped_column(String(64))
    payer: Mapped[str | None] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(80))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id",
                                                               ondelete="RESTRICT"))
    reason: Mapped[str | None] = mapped_column(String(500))
    receipt_number: Mapped[str | None] = mapped_column(String(40))
    taken_by: Mapped[str] = mapped_column(String(64))
    taken_by_name: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentAllocation(Base):
    """How much of a payment went to one bill: principal first, then late fees."""

    __tablename__ = "payment_allocations"
    __table_args__ = (Index(None, "payment_id"), Index(None, "bill_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(Money)
    principal: Mapped[Decimal] = mapped_column(Money)
    late_fee: Mapped[Decimal] = mapped_column(Money)
    #: Per fee item code: the amount of this allocation that paid it (receipts, statistics).
    fees: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PrepaidEntry(Base):
    """One movement of a unit's prepaid balance (预存款); the balance is their sum."""

    __tablename__ = "prepaid_entries"
    __table_args__ = (Index(None, "unit_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))  # LEDGER_KINDS
    amount: Mapped[Decimal] = mapped_column(Money)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id",
                                                              ondelete="RESTRICT"))
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id", ondelete="RESTRICT"))
    note: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReceiptCounter(Base):
    """The last receipt number taken for a site and year (locked while taking the next)."""

    __tablename__ = "receipt_counters"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class Receipt(Base):
    """A numbered receipt (收据) for one payment; a red one (negative) for a reversal."""

    __tablename__ = "receipts"
    __table_args__ = (UniqueConstraint("number"), UniqueConstraint("payment_id"),
                      UniqueConstraint("site_id", "year", "seq"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(Money)
    red: Mapped[bool] = mapped_column(default=False)
    reverses_number: Mapped[str | None] = mapped_column(String(40))
    #: What the receipt shows: payer, unit, method, lines (bill, period, fee item, amount).
    body: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notification(Base):
    """One message in the outbox: who, which template, when it is due, and how sending went."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("idempotency_key"),
                      Index(None, "state", "next_attempt_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    #: "resident:<id>" or "unit:<id>": the sender looks up the address; logs show only this.
    recipient: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id", ondelete="RESTRICT"))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))  # NOTIFICATION_STATES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
