"""Cloud records: sites, devices, meters, the event log and what was derived from it.

``events`` is the append-only log the edge delivers (unique per site, outbox epoch and seq, so
a redelivered batch is a no-op); everything else is derived from it inside the same
transaction (DESIGN §2 rule 3). ``readings`` keeps billing-relevant values as exact decimals.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cloud.db.types import BigId, JsonDoc, Quantity, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING)


class Site(Base):
    """A residential community with one edge gateway; ``slug`` is its id in MQTT topics."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai",
                                          server_default="Asia/Shanghai")
    online: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The acked mark of the epoch that sent last (``IngestEpoch`` holds every epoch's).
    acked_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    last_batch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Device(Base):
    """A field device as the site YAML names it (``key``); created on its first event."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str | None] = mapped_column(String(64))
    profile: Mapped[str | None] = mapped_column(String(64))
    unit_ref: Mapped[str | None] = mapped_column(String(64))
    online: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    offline_reason: Mapped[str | None] = mapped_column(String(64))
    #: Device time of the online/offline event that set ``online`` (orders late arrivals).
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Meter(Base):
    """Billing view of a metering device: the latest values, exact, per register name."""

    __tablename__ = "meters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"),
                                           unique=True)
    unit_ref: Mapped[str | None] = mapped_column(String(64))
    profile: Mapped[str | None] = mapped_column(String(64))
    #: ``{name: "decimal string"}`` of the newest reading of each register.
    last_values: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    last_energy_kwh: Mapped[Decimal | None] = mapped_column(Quantity)
    last_water_m3: Mapped[Decimal | None] = mapped_column(Quantity)
    last_reading_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


LEGACY_EPOCH = "legacy"
"""The epoch of rows stored before outboxes had one (migration 0014); never on the wire."""


class Event(Base):
    """One envelope as delivered; (site_id, epoch, seq) is its position and ``uuid`` its
    identity: the same position with another id is a conflict (``IngestConflict``).

    No foreign keys, like ``readings``: only the ingestor writes here, in the transaction that
    locks the site and creates the device (migration 0002)."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("site_id", "epoch", "seq"),
        Index(None, "site_id", "kind", "seq"),
        Index(None, "site_id", "seq"),  # the events list, across epochs (0029)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(Integer)
    #: The edge outbox that gave ``seq`` (a random id made when the outbox was created).
    epoch: Mapped[str] = mapped_column(String(64), server_default=LEGACY_EPOCH)
    seq: Mapped[int] = mapped_column(BigInteger)
    uuid: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(128))
    device_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(SmallInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SeqGap(Base):
    """An inclusive seq range the edge dropped under its disk budget and will never send."""

    __tablename__ = "seq_gaps"
    __table_args__ = (UniqueConstraint("site_id", "epoch", "seq_from", "seq_to"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    epoch: Mapped[str] = mapped_column(String(64), server_default=LEGACY_EPOCH)
    seq_from: Mapped[int] = mapped_column(BigInteger)
    seq_to: Mapped[int] = mapped_column(BigInteger)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IngestEpoch(Base):
    """One outbox epoch of a site and its contiguous acked mark: every seq ≤ ``acked_seq`` of
    this epoch is stored or declared dropped. ``held_at``: the lowest seq of an unresolved
    conflict above the mark; the mark stays below it."""

    __tablename__ = "ingest_epochs"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True)
    epoch: Mapped[str] = mapped_column(String(64), primary_key=True)
    acked_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    held_at: Mapped[int | None] = mapped_column(BigInteger)
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_batch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IngestConflict(Base):
    """An event that came to a stored position (site, epoch, seq) with another id: kept as
    evidence once per incoming id, never stored as the event, never acked as stored.

    ``holds``: it arrived above its epoch's mark, so the mark stops below it until the event
    stored there is delivered again (``released_at``). ``event_id``: the ``ingest.conflict``
    event the cloud stored to raise the alarm."""

    __tablename__ = "ingest_conflicts"
    __table_args__ = (UniqueConstraint("site_id", "epoch", "seq", "incoming_uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    epoch: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    stored_uuid: Mapped[str] = mapped_column(String(64))
    incoming_uuid: Mapped[str] = mapped_column(String(64))
    raw: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    holds: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    repeats: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_id: Mapped[int | None] = mapped_column(BigId)


class Reading(Base):
    """One numeric register value of a ``meter.reading`` event (unit = measurement unit).

    No foreign keys: only the ingestor writes here, in the transaction that stores the event,
    device and site the row points at; per-row referential checks tripled the cost of this,
    the hottest write of ingest (migration 0002)."""

    __tablename__ = "readings"
    __table_args__ = (Index(None, "device_id", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str | None] = mapped_column(String(16))
    event_id: Mapped[int] = mapped_column(BigId)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TelemetryCursor(Base):
    """How far an exporter got through ``readings`` (by id); advanced only after a write."""

    __tablename__ = "telemetry_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
