"""Alarms guards act on, what was done about each, and the edge's linkage reports.

An alarm is opened by the ingest handler of an alarm event, inside the batch's transaction,
so a redelivered batch never opens a second one. While it is active (open, acknowledged, in
progress) a repeat of the same condition (same site and ``fold_key``) only adds to ``count``;
a partial unique index makes that a database guarantee, not just a habit of the handler.

No foreign key to ``sites``/``events``, like the other tables the ingestor writes: the site
row is locked and the event inserted by the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.steps import StepColumns
from cloud.db.types import BigId, JsonDoc, UTCDateTime

#: Literal SQL so PostgreSQL matches queries to the partial indexes (keep in step with
#: ``cloud.alarms.policy.ACTIVE_STATES``).
ALARM_ACTIVE_WHERE = "state IN ('open', 'acknowledged', 'in_progress')"


class Alarm(Base):
    """One condition on site that a guard must deal with, from open to resolved."""

    __tablename__ = "alarms"
    __table_args__ = (
        Index("uq_alarms_active_fold", "site_id", "fold_key", unique=True,
              postgresql_where=text(ALARM_ACTIVE_WHERE), sqlite_where=text(ALARM_ACTIVE_WHERE)),
        Index(None, "site_id", "source_key"),
        Index(None, "site_id", "opened_at"),
        Index(None, "updated_at"),
        Index(None, "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    #: The condition (kind, device, component, detail): see ``cloud.alarms.extract``.
    fold_key: Mapped[str] = mapped_column(String(255))
    #: The thing in trouble (device, component), for restore events to find its alarms.
    source_key: Mapped[str] = mapped_column(String(255))
    device: Mapped[str] = mapped_column(String(128))
    #: The condition in the words restore events use for what cleared (``fire``, ``fault``).
    condition: Mapped[str | None] = mapped_column(String(64))
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    location: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    location_text: Mapped[str] = mapped_column(String(200), default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    #: Device times of the first and the latest event of the condition.
    first_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    last_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Cloud clock: when the alarm was opened (escalation counts from here).
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    #: The latest note a guard wrote (the whole trail is in ``alarm_actions``).
    note: Mapped[str | None] = mapped_column(Text)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Device time of a restore event (``fire.restored``…) newer than the last repeat.
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_uuid: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    #: Cloud clock of the last change: the live feed catches up from here after a gap.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlarmAction(StepColumns, Base):
    """One step of an alarm's history: opened, a guard's action, an escalation, a restore."""

    __tablename__ = "alarm_actions"

    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"),
                                          index=True)
    #: Escalations: the role notified and the level reached.
    role: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[int | None] = mapped_column(Integer)
    #: Device-originated steps (opened, restored): the event.
    event_id: Mapped[int | None] = mapped_column(BigInteger)


class AlarmEvent(Base):
    """Every event folded into an alarm: traceability, and how a linkage report finds the
    alarm of the event that caused it (by that event's uuid)."""

    __tablename__ = "alarm_events"
    __table_args__ = (Index(None, "site_id", "event_uuid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"),
                                          index=True)
    site_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_uuid: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)


class AlarmLinkage(Base):
    """An edge linkage report (``linkage.triggered`` / ``linkage.action``): what the site did
    by itself about an alarm event. ``alarm_id`` is empty while the causing event's alarm has
    not arrived yet; the alarm handler attaches it by ``cause_uuid``."""

    __tablename__ = "alarm_linkage"
    __table_args__ = (Index(None, "site_id", "cause_uuid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(Integer)
    alarm_id: Mapped[int | None] = mapped_column(
        ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    cause_uuid: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(128))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(128))
    result: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[Any] = mapped_column(JsonDoc, nullable=True)
