"""Shared background work (docs/data-lifecycle.md §4): jobs, duty leases and schedules.

Everything several console processes must agree on lives here and nowhere in memory: a
``jobs`` row is one unit of work claimed by one console at a time (its lease renewed while it
runs, taken over by anyone when it lapses); a ``duty_leases`` row says which console takes the
ticks of a recurring duty (alarm escalation, SLA checks, PM generation, the schedule tick); a
``schedules`` row turns into one job per slot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import BigId, JsonDoc, UTCDateTime

JOB_STATES = ("queued", "running", "done", "failed")
SCHEDULE_KINDS = ("bill_run", "reminders", "late_fees", "purge")
OWNER_LEN = 128


class Job(Base):
    """One unit of work: ``key`` is unique per ``kind`` so enqueueing twice is one job.

    A ``queued`` job, or a ``running`` one whose ``lease_until`` passed (its console died), is
    claimed by any console; ``attempts`` counts claims and a job claimed too often is
    ``failed`` with its last error, visible at ``/schedules``."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("kind", "key"), Index(None, "state", "lease_until"),
                      Index(None, "site_id", "kind", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), nullable=True)
    key: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))  # JOB_STATES
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(OWNER_LEN), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class DutyLease(Base):
    """Who takes a duty's ticks until ``lease_until`` (renewed by the holder each tick)."""

    __tablename__ = "duty_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(OWNER_LEN))
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime)


class Schedule(Base):
    """A site's recurring work: ``spec`` says when (``{"time": "02:00"}`` daily, plus
    ``day_of_month`` and ``cycle`` for a bill run), in the site's time zone; ``next_due`` is
    the next slot in UTC and ``last_slot`` the last one turned into a job."""

    __tablename__ = "schedules"
    __table_args__ = (Index(None, "site_id"), Index(None, "enabled", "next_due"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # SCHEDULE_KINDS
    enabled: Mapped[bool] = mapped_column()
    spec: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_slot: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
