"""Work orders, their history, labour and parts, and the technicians they go to.

One open order per fault: the partial unique index over (site, ``fold_key``) in the open
states makes folding a database guarantee, not a habit of the caller. A staff or owner
request carries its own ``request_id``, unique per site, so a resubmitted form is refused.
SLA deadlines are computed from ``cause_ts`` (the device event's time), not from ingest.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.steps import StepColumns
from cloud.db.types import BigId, JsonDoc, Money, Quantity, UTCDateTime

#: Literal SQL for the partial index (keep in step with ``cloud.workorders.states.OPEN_STATES``).
WORKORDER_OPEN_WHERE = ("state IN ('pool', 'assigned', 'accepted', 'in_progress', 'paused', "
                        "'completed')")


class WorkOrder(Base):
    """A task for a technician: what, where, how urgent, by when, and who is on it."""

    __tablename__ = "work_orders"
    __table_args__ = (
        Index("uq_work_orders_open_fold", "site_id", "fold_key", unique=True,
              postgresql_where=text(WORKORDER_OPEN_WHERE),
              sqlite_where=text(WORKORDER_OPEN_WHERE)),
        Index(None, "site_id", "request_id", unique=True),
        Index(None, "state"),
        Index(None, "site_id", "opened_at"),
        Index(None, "site_id", "unit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(Integer)
    #: Human-facing number (``WO-YYYYMMDD-id``), set right after the insert.
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    category: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The unit (房号, its code as the register writes it) a resident's call is about.
    unit: Mapped[str | None] = mapped_column(String(64))
    #: Where it came from: ``event`` (a device), ``request`` (staff/owner), ``plan`` (PM).
    source_kind: Mapped[str] = mapped_column(String(16))
    source_device: Mapped[str | None] = mapped_column(String(128))
    source_event_uuid: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(64))
    fold_key: Mapped[str] = mapped_column(String(255))
    count: Mapped[int] = mapped_column(Integer, default=1)
    last_event_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cause_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    response_due: Mapped[datetime] = mapped_column(UTCDateTime)
    resolve_due: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_breached: Mapped[bool] = mapped_column(Boolean, default=False,
                                                    server_default=false())
    resolve_breached: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    skill: Mapped[str | None] = mapped_column(String(32))
    #: Technician ids on the order (several for multi-person jobs).
    assignee_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    rating_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_note: Mapped[str | None] = mapped_column(Text)
    return_visit_note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkOrderAction(StepColumns, Base):
    """One step of an order's history: opened, folded, a person's action, an escalation."""

    __tablename__ = "work_order_actions"

    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"),
                                          index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)


class WorkOrderLine(Base):
    """Labour (``hours``) or a part (``part`` × ``qty`` at ``unit_price``); ``cost`` is
    computed once, in Decimal, when the line is recorded."""

    __tablename__ = "work_order_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"),
                                          index=True)
    kind: Mapped[str] = mapped_column(String(8))  # labour | part
    technician_id: Mapped[int | None] = mapped_column(Integer)
    hours: Mapped[Decimal | None] = mapped_column(Quantity)
    part: Mapped[str | None] = mapped_column(String(128))
    qty: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    cost: Mapped[Decimal] = mapped_column(Money)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Technician(Base):
    """Someone who fixes things: skills, the sites served, and when on duty (a roster of
    weekly shifts, or ``on_duty`` when clocked in by hand)."""

    __tablename__ = "technicians"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    skills: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    site_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: For round-robin dispatch: who waited longest since their last assignment goes next.
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TechnicianShift(Base):
    """A weekly roster row in the site's local time: ``weekday`` 0 = Monday, minutes from
    midnight; an end at or before the start runs past midnight into the next day."""

    __tablename__ = "technician_shifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    technician_id: Mapped[int] = mapped_column(
        ForeignKey("technicians.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    start_min: Mapped[int] = mapped_column(SmallInteger)
    end_min: Mapped[int] = mapped_column(SmallInteger)
