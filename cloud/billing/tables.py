"""Billing records: fee items, bill runs, bills and their lines.

A bill run bills one site for one cycle and period ("2026-11", "2026-Q4", "2026"); it is
unique per (site, cycle, period), and each unit gets at most one bill per run (unique
(run, unit)), so re-running or resuming a run never bills a unit twice. Every line names its
fee item and keeps in ``source`` what its amount came from (meter ids and readings, the
apportionment basis, the parking event) so any amount can be traced.

Bills are never deleted: a wrong bill is voided (state ``void`` with a reason) or reversed
(红冲: a negative adjustment line), and both are audited. Money is ``Money`` (yuan, 2 places);
unit prices keep 6 places; quantities are ``Quantity``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import BigId, JsonDoc, Money, Quantity, UTCDateTime

#: Unit prices: yuan with six places (electricity is priced to 0.0001 yuan/kWh and below).
Price = Numeric(16, 6, asdecimal=True)

FEE_KINDS = ("area", "fixed", "metered", "shared", "parking_pass", "parking_temp")
CYCLES = ("monthly", "quarterly", "yearly")
BILL_STATES = ("held", "open", "partial", "paid", "void")


class FeeItem(Base):
    """A fee a site charges (收费项目): how its amount is computed and on which cycle.

    ``rule`` holds the kind's parameters, e.g. ``{"rates": {"residential": "2.50"}}`` for an
    area fee (yuan per m² per month), ``{"utility": "electricity", "tiers": [...]}`` for a
    metered one; ``late_fee`` is ``{"daily_rate": "0.0003", "grace_days": 15, "cap": "1"}``
    (cap as a share of the principal) or null.
    """

    __tablename__ = "fee_items"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # FEE_KINDS
    cycle: Mapped[str] = mapped_column(String(16))  # CYCLES
    rule: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    late_fee: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    #: Days after the period's end that its bill is due.
    due_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BillRun(Base):
    """One billing of a site for a cycle and period; resumable, with progress."""

    __tablename__ = "bill_runs"
    __table_args__ = (UniqueConstraint("site_id", "cycle", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    cycle: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(16))
    #: The period in the site's calendar: [start, end) as local dates.
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))  # running | done | failed
    units_total: Mapped[int] = mapped_column(Integer, default=0)
    units_done: Mapped[int] = mapped_column(Integer, default=0)
    bills: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    error: Mapped[str | None] = mapped_column(String(500))
    started_by: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Bill(Base):
    """What one unit owes for one run: lines, total, what has been paid, and its state.

    ``held``: an anomalous reading (negative, spike, stuck meter) stopped it for review;
    ``hold_reasons`` says which meter and why. It is issued (``open``) after review.
    """

    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("run_id", "unit_id"), UniqueConstraint("number"),
                      Index(None, "site_id", "state", "due_date"), Index(None, "unit_id"),
                      Index(None, "site_id", "id"))  # a site's bills by keyset (0028)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("bill_runs.id", ondelete="RESTRICT"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    #: Human bill number, unique: ``<site>-<period>-<unit id>``.
    number: Mapped[str] = mapped_column(String(64))
    cycle: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # BILL_STATES
    #: Sum of the lines (charges − discounts + late fees); ``paid`` is what payments cover.
    total: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    due_date: Mapped[date] = mapped_column(Date)
    hold_reasons: Mapped[list[Any] | None] = mapped_column(JsonDoc)
    void_reason: Mapped[str | None] = mapped_column(String(500))
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BillLine(Base):
    """One amount on a bill and where it came from."""

    __tablename__ = "bill_lines"
    __table_args__ = (Index(None, "bill_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id", ondelete="CASCADE"))
    #: charge | discount | late_fee | adjustment (红冲 and corrections, negative)
    kind: Mapped[str] = mapped_column(String(16))
    fee_item_id: Mapped[int | None] = mapped_column(Integer)
    fee_code: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Price)
    amount: Mapped[Decimal] = mapped_column(Money)
    source: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BilledCharge(Base):
    """A ``parking.exit`` charge (``charges``) put on a bill: the key makes it billed once.

    Voiding the bill deletes this row so the charge is billed again by the next run."""

    __tablename__ = "billed_charges"
    __table_args__ = (Index(None, "bill_id"),)

    charge_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
