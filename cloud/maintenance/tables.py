"""The equipment ledger, the PM plans each site runs, and the visits already turned into orders.

``maintenance_visits.pm_key`` (``schedule.Due.key``) is unique: a visit can become a work
order once only, whoever runs the generator and however often — the database says so, not
the generator's memory.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import JsonDoc, UTCDateTime


class AssetRecord(Base):
    """One piece of equipment (设备台账): ``code`` is the site's own label for it."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    make: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    serial: Mapped[str] = mapped_column(String(100), default="")
    install_date: Mapped[date] = mapped_column(Date)
    warranty_until: Mapped[date | None] = mapped_column(Date)
    contract: Mapped[str | None] = mapped_column(String(100))
    building: Mapped[str | None] = mapped_column(String(100))
    #: The edge device key reporting for it (its fault orders come from this device).
    device: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MaintenancePlan(Base):
    """A plan a site runs for every asset of one kind; ``definition`` is the YAML shape."""

    __tablename__ = "maintenance_plans"
    __table_args__ = (UniqueConstraint("site_id", "plan_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    plan_id: Mapped[str] = mapped_column(String(64))
    asset_kind: Mapped[str] = mapped_column(String(32))
    definition: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    release_days_ahead: Mapped[int] = mapped_column(Integer)
    start: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MaintenanceVisit(Base):
    """A due visit already made into a work order (the generator's memory)."""

    __tablename__ = "maintenance_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pm_key: Mapped[str] = mapped_column(String(255), unique=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"),
                                          index=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("maintenance_plans.id", ondelete="CASCADE"), index=True)
    tier: Mapped[str] = mapped_column(String(64))
    covers: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    due_date: Mapped[date] = mapped_column(Date)
