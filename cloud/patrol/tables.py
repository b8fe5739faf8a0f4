"""The patrol (巡更) tables: what the console edits (checkpoints, routes, plans, tags and who
held each tag) and what the edge reports (rounds, visits) or a phone scans (QR scans).

Rows of the edited tables are never deleted: ``active`` false (a tag: ``retired_at`` set)
takes them out of the dataset while reports keep naming them. One active tag per key and site
is enforced by the service under the ``patrol`` dataset's version lock, like access cards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import JsonDoc, UTCDateTime
from contract.patrol import PATROL

PATROL_DATASET = PATROL
KEY_LEN = 64  # checkpoint, route and plan codes
TAG_LEN = 96  # "ibeacon:" + 36 + two u16: 58; "eddystone:" + 20 + 1 + 12: 43
ROUND_LEN = 96  # "<plan>@<UTC ISO>Z"


class PatrolCheckpoint(Base):
    """A place a guard must pass: heard by a receiver, or a QR sticker (``sticker_n`` is the
    serial of the current sticker; printing a new one retires the old)."""

    __tablename__ = "patrol_checkpoints"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(KEY_LEN))
    name: Mapped[str] = mapped_column(String(64))
    building: Mapped[str] = mapped_column(String(64), default="")
    floor: Mapped[str] = mapped_column(String(32), default="")
    area: Mapped[str] = mapped_column(String(64), default="")
    receiver: Mapped[str | None] = mapped_column(String(KEY_LEN))
    qr: Mapped[bool] = mapped_column(Boolean, default=False)
    sticker_n: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PatrolRoute(Base):
    """An ordered (or any-order) list of checkpoints, each due ``offset_s`` after the round's
    scheduled start: ``points`` is ``[{"checkpoint", "offset_s"}]`` in walking order."""

    __tablename__ = "patrol_routes"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(KEY_LEN))
    name: Mapped[str] = mapped_column(String(64))
    ordered: Mapped[bool] = mapped_column(Boolean, default=True)
    points: Mapped[list[Any]] = mapped_column(JsonDoc)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PatrolPlan(Base):
    """When a route is walked (``contract.patrol.PlanEntry``; times of day are site time,
    ``HH:MM:SS``)."""

    __tablename__ = "patrol_plans"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(KEY_LEN))
    name: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(KEY_LEN))
    days: Mapped[list[Any]] = mapped_column(JsonDoc)
    start_time: Mapped[str] = mapped_column(String(8))
    end_time: Mapped[str] = mapped_column(String(8))
    every_s: Mapped[int] = mapped_column(Integer, default=0)
    start_window_s: Mapped[int] = mapped_column(Integer)
    tolerance_s: Mapped[int] = mapped_column(Integer)
    late_s: Mapped[int] = mapped_column(Integer)
    tolerances: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    escalate_s: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PatrolTag(Base):
    """A guard's BLE tag by its canonical key (``contract.patrol.tag_key``), issued to one
    guard (a staff login name) at a time; retired tags keep their row and history."""

    __tablename__ = "patrol_tags"
    __table_args__ = (Index("ix_patrol_tags_site_id_tag", "site_id", "tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(TAG_LEN))
    label: Mapped[str] = mapped_column(String(64), default="")
    guard: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PatrolTagHistory(Base):
    """Who held a tag from when to when (``to_at`` None: holds it now), and who handed it."""

    __tablename__ = "patrol_tag_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("patrol_tags.id", ondelete="CASCADE"), index=True)
    guard: Mapped[str] = mapped_column(String(64))
    from_at: Mapped[datetime] = mapped_column(UTCDateTime)
    to_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(String(200))


class PatrolRound(Base):
    """One scheduled round as the edge reported it, kept order-independent (events may
    arrive completed-before-started after an outage): ``status`` only moves forward,
    ``missed_checkpoints`` maps each missed checkpoint to its deadline (UTC ISO)."""

    __tablename__ = "patrol_rounds"
    __table_args__ = (UniqueConstraint("site_id", "round_id"),
                      Index("ix_patrol_rounds_site_id_scheduled_at", "site_id", "scheduled_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    round_id: Mapped[str] = mapped_column(String(ROUND_LEN))
    plan: Mapped[str] = mapped_column(String(KEY_LEN))
    route: Mapped[str | None] = mapped_column(String(KEY_LEN))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: scheduled | started | completed | incomplete | missed
    status: Mapped[str] = mapped_column(String(16))
    guard: Mapped[str | None] = mapped_column(String(64))
    tag: Mapped[str | None] = mapped_column(String(TAG_LEN))
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    missed: Mapped[int] = mapped_column(Integer, default=0)
    out_of_order: Mapped[int] = mapped_column(Integer, default=0)
    missed_checkpoints: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PatrolVisit(Base):
    """A checkpoint visit (``patrol.checkpoint``), once per event however often it arrives."""

    __tablename__ = "patrol_visits"
    __table_args__ = (Index("ix_patrol_visits_site_id_at", "site_id", "at"),
                      Index("ix_patrol_visits_site_id_round_id", "site_id", "round_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    round_id: Mapped[str | None] = mapped_column(String(ROUND_LEN))
    plan: Mapped[str | None] = mapped_column(String(KEY_LEN))
    checkpoint: Mapped[str] = mapped_column(String(KEY_LEN))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # on_time | late | out_of_order | unplanned
    source: Mapped[str] = mapped_column(String(8))  # ble | qr
    guard: Mapped[str | None] = mapped_column(String(64))
    tag: Mapped[str | None] = mapped_column(String(TAG_LEN))
    receiver: Mapped[str | None] = mapped_column(String(KEY_LEN))
    rssi: Mapped[int | None] = mapped_column(Integer)
    dwell_s: Mapped[float | None] = mapped_column(Float)
    event_id: Mapped[int] = mapped_column(BigInteger, unique=True)


class PatrolScan(Base):
    """A QR sticker scanned from a guard's phone (the guard is the login), with what the
    console noticed about it (``flags``: ``old_sticker``, ``outside_window``, ``clock_skew``)
    and whether it reached the edge as a ``patrol.scan`` command."""

    __tablename__ = "patrol_scans"
    __table_args__ = (Index("ix_patrol_scans_site_id_server_time", "site_id", "server_time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    checkpoint: Mapped[str] = mapped_column(String(KEY_LEN))
    guard: Mapped[str] = mapped_column(String(64))
    phone_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    server_time: Mapped[datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    sticker_n: Mapped[int] = mapped_column(Integer)
    flags: Mapped[list[Any]] = mapped_column(JsonDoc)
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False)
    command_id: Mapped[int | None] = mapped_column(Integer)
