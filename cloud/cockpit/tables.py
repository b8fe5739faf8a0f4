"""The cockpit's own tables: hourly rollups, each meter's last counters, each elevator car's
live state (docs/cockpit.md, "Rollups").

All three are written only by ingest (``cloud.cockpit.rollup_handlers``), inside the batch's
transaction that locks the site row, and by ``courtyard cloud cockpit rebuild`` under the same
lock. Like ``readings``, they carry no foreign keys: the writer already holds the site and the
device, and per-row referential checks would cost the ingest path for nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import Quantity, UTCDateTime

#: A rollup's sum: kWh, m³, fen or a count, four places (exact on PostgreSQL; SQLite keeps a
#: float, read back rounded to the four places).
RollupValue = Numeric(18, 4, asdecimal=True)

SUBJECT_TYPES = ("site", "device", "building", "lot", "lane", "door")
SUBJECT_LEN = 128  # a device key (``devices.key`` is 128)
METRIC_LEN = 32
ELEVATOR_STATES = ("running", "fault", "trapped", "maintenance", "offline")


class CockpitHourly(Base):
    """The sum of one metric for one subject over one UTC hour (``hour``: the instant it
    starts). Written with an upsert that adds, so batches in any order and size add up."""

    __tablename__ = "cockpit_hourly"
    __table_args__ = (
        # The panels' reads: one metric of one kind of subject over a period (today's
        # buildings, the top devices, a site's 30-day trend) — a range on ``hour`` after the
        # equalities, whatever the number of subjects.
        Index(None, "site_id", "metric", "subject_type", "hour"),
    )

    site_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(METRIC_LEN), primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: The device key, building code, lot, lane or door ("" for ``site``).
    subject: Mapped[str] = mapped_column(String(SUBJECT_LEN), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    value: Mapped[Decimal] = mapped_column(RollupValue)


class CockpitMeterState(Base):
    """A meter's counters as of its newest reading (device time), the base of the next rise;
    ``anomaly`` names the last counter that went backwards or rose implausibly
    (``rollups.ANOMALY_LABELS``), ``anomaly_at`` the device time of that reading."""

    __tablename__ = "cockpit_meter_state"
    __table_args__ = (Index(None, "site_id"),)

    device_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    site_id: Mapped[int] = mapped_column(Integer)
    last_kwh: Mapped[Decimal | None] = mapped_column(Quantity)
    last_m3: Mapped[Decimal | None] = mapped_column(Quantity)
    last_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)
    anomaly: Mapped[str | None] = mapped_column(String(32))
    anomaly_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CockpitElevator(Base):
    """One elevator car's live state (one of ``ELEVATOR_STATES``) since ``since``; the
    newest event by device time (``updated_ts``) wins."""

    __tablename__ = "cockpit_elevators"

    site_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    device: Mapped[str] = mapped_column(String(SUBJECT_LEN), primary_key=True)
    building: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16))
    floor: Mapped[int | None] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_ts: Mapped[datetime] = mapped_column(UTCDateTime)
