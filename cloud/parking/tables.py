"""Parking records in the cloud: what the edge decides from, and what it reports back.

Sessions and charges are written only by the ingest handlers of ``parking.entry`` /
``parking.exit`` inside the batch's transaction; the edge's session id is the key, so a stay
is one row however its events arrive (entry first, exit first after an outage, or the exit
alone).

Vehicles, spaces, passes, visitors, the blacklist and tariffs are edited through the API and
pushed to the edge as one versioned dataset (DESIGN §3): every edit bumps the site's
``dataset_versions`` row in the same transaction, so a version always names exactly one
content. Plates are stored normalised (``parkingrules.plates.normalize``) and are unique
per site in each list, because the edge indexes each list by plate.
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
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base, Event
from cloud.db.types import BigId, JsonDoc, Money, UTCDateTime
from contract.datasets import PARKING

#: The dataset name of everything below that the edge's lanes decide from.
PARKING_DATASET = PARKING

#: The lane view asks "the last reads of this camera": a partial index holds only the
#: ``plate.read`` rows, so the hot ``meter.reading`` inserts of ingest do not pay for it. The
#: condition is literal SQL, and queries must repeat it literally for the planner to use it.
PLATE_READ_WHERE = "kind = 'plate.read'"
_EVENTS = Event.__table__.c
Index("ix_events_plate_reads", _EVENTS.site_id, _EVENTS.device, _EVENTS.seq,
      postgresql_where=text(PLATE_READ_WHERE), sqlite_where=text(PLATE_READ_WHERE))


class ParkingSession(Base):
    """A stay in a lot, as the edge decided it."""

    __tablename__ = "parking_sessions"
    __table_args__ = (UniqueConstraint("site_id", "session_uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(Integer, index=True)
    session_uuid: Mapped[str] = mapped_column(String(64))
    lot: Mapped[str] = mapped_column(String(64))
    plate: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # inside | closed
    entry_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entry_lane: Mapped[str | None] = mapped_column(String(64))
    exit_lane: Mapped[str | None] = mapped_column(String(64))
    minutes: Mapped[int | None] = mapped_column(Integer)
    fee: Mapped[Decimal | None] = mapped_column(Money)
    paid: Mapped[Decimal | None] = mapped_column(Money)
    anomalies: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)
    entry_event_id: Mapped[int | None] = mapped_column(BigInteger)
    exit_event_id: Mapped[int | None] = mapped_column(BigInteger)


class Charge(Base):
    """Money owed or collected for something that happened on site, traceable to its event."""

    __tablename__ = "charges"
    __table_args__ = (UniqueConstraint("site_id", "source", "source_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(Integer, index=True)
    source: Mapped[str] = mapped_column(String(32))  # parking.exit
    #: The source's own key (the parking session id), so a stay is charged once.
    source_ref: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int] = mapped_column(BigInteger)
    plate: Mapped[str | None] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)
    #: What the cloud's own tariff computation said, when it differs from the edge's fee.
    recheck: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _site_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))


class _Edited:
    """Kept simple on purpose: when a row was made and last changed, no revision history."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ParkingVehicle(_Edited, Base):
    """An owner's, tenant's or staff member's registered vehicle: in and out free."""

    __tablename__ = "parking_vehicles"
    __table_args__ = (UniqueConstraint("site_id", "plate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = _site_fk()
    plate: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str] = mapped_column(String(100))
    #: The household, as the property writes it: building-room, e.g. ``1-101``.
    unit_ref: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # owner | tenant | staff
    #: Lot ids the vehicle may use; empty means every lot.
    lots: Mapped[list[str]] = mapped_column(JsonDoc, default=list)


class ParkingSpace(_Edited, Base):
    """A marked bay: owned by or rented to a household, or public."""

    __tablename__ = "parking_spaces"
    __table_args__ = (UniqueConstraint("site_id", "lot", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = _site_fk()
    code: Mapped[str] = mapped_column(String(32))
    lot: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # owned | rented | public
    unit_ref: Mapped[str | None] = mapped_column(String(64))
    plate: Mapped[str | None] = mapped_column(String(16))


class MonthlyPass(_Edited, Base):
    """A paid period of parking; both dates inclusive, in site time."""

    __tablename__ = "parking_monthly_passes"
    __table_args__ = (UniqueConstraint("site_id", "plate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = _site_fk()
    plate: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str | None] = mapped_column(String(100))
    lots: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    grace_days: Mapped[int] = mapped_column(Integer)
    remind_days: Mapped[int] = mapped_column(Integer)


class VisitorPass(_Edited, Base):
    """A visitor's vehicle a resident registered: free inside [start, end)."""

    __tablename__ = "parking_visitor_passes"
    __table_args__ = (UniqueConstraint("site_id", "plate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = _site_fk()
    plate: Mapped[str] = mapped_column(String(16))
    host_unit: Mapped[str | None] = mapped_column(String(64))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Blacklist(_Edited, Base):
    """A plate refused at every gate, with the reason shown to the guard."""

    __tablename__ = "parking_blacklist"
    __table_args__ = (UniqueConstraint("site_id", "plate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = _site_fk()
    plate: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200))


class LotTariff(_Edited, Base):
    """The tariff of one lot, stored as ``Tariff.to_dict()`` (money as strings), which is
    exactly what ``tariff_from_dict`` reads back at the edge."""

    __tablename__ = "parking_tariffs"
    __table_args__ = (UniqueConstraint("site_id", "lot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = _site_fk()
    lot: Mapped[str] = mapped_column(String(64))
    doc: Mapped[dict[str, Any]] = mapped_column(JsonDoc)


class DatasetVersion(Base):
    """The version of one of a site's datasets: bumped in the transaction of every edit.

    The row doubles as the site's write lock for that dataset: the bump is an upsert that
    locks it on PostgreSQL, so concurrent edits of one site run one after the other and a
    version number never names two different contents."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = _site_fk()
    name: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
