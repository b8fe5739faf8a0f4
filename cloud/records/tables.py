"""The property register: companies, buildings, units, residents and billing meters.

Sites (``sites``) are the communities; a company (物业公司) runs several. Units are keyed by a
``code`` unique per site ("1-1-101": building-entrance-room, as the site writes it) because the
edge, the parking records (``unit_ref``) and imports already name units that way.

Residents are owners and tenants of a unit, one row per person and unit with move-in/out and
lease dates: a household's history is its rows, never overwritten. Vehicles and parking spaces
are the parking records (``cloud.parking.tables``): they are what the edge decides from, so there
is one copy of each.

A billing meter (``billing_meters``) is the meter a unit or a building's shared area is billed
by: its number, utility, multiplier and the edge device and register that read it. Replacing a
meter closes the old row (``removed_at``, ``final_reading``) and opens a new one with its
``initial_reading``, so consumption across the swap is exact.

``audit_log`` holds every change (before/after) and every view of personal data, with who and
when; a record's history is its rows there.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import Quantity, UTCDateTime

#: Areas in square metres, two places (as on a property certificate).
Area = Numeric(10, 2, asdecimal=True)

UNIT_STATUSES = ("unsold", "occupied", "rented", "vacant")
#: Property-fee rates are per unit type, so a type is one of these, never free text.
UNIT_TYPES = ("residential", "commercial", "office", "storage", "parking")
RESIDENT_ROLES = ("owner", "tenant")
UTILITIES = ("electricity", "water", "gas")
METER_SCOPES = ("unit", "shared")


class _Stamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Company(_Stamped, Base):
    """A property-management company (物业公司); sites may belong to one."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class SiteCompany(Base):
    """Which company runs a site (a separate row: ``sites`` is written by ingest)."""

    __tablename__ = "site_companies"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"))


class Building(_Stamped, Base):
    """A building (楼栋) of a site."""

    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    floors: Mapped[int | None] = mapped_column(Integer)


class Unit(_Stamped, Base):
    """A flat, shop or other unit (房屋): what property fees are charged on."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("site_id", "code"), Index(None, "building_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(64))
    floor: Mapped[int | None] = mapped_column(Integer)
    #: Gross floor area (建筑面积) and inner area (套内面积), m².
    area: Mapped[Decimal] = mapped_column(Area)
    inner_area: Mapped[Decimal | None] = mapped_column(Area)
    #: One of UNIT_TYPES: property-fee rates are per type.
    unit_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # UNIT_STATUSES


class Resident(_Stamped, Base):
    """An owner or tenant of a unit over a period; personal data (phone, ID) is audited."""

    __tablename__ = "residents"
    __table_args__ = (Index(None, "unit_id"), Index(None, "site_id", "role"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(String(16))  # RESIDENT_ROLES
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    move_in: Mapped[date | None] = mapped_column(Date)
    move_out: Mapped[date | None] = mapped_column(Date)
    lease_start: Mapped[date | None] = mapped_column(Date)
    lease_end: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    #: When the name was replaced and the contacts cleared (``cloud.retention.pseudonymise``).
    pseudonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BillingMeter(_Stamped, Base):
    """A meter a unit (or a building's shared area) is billed by, and what reads it."""

    __tablename__ = "billing_meters"
    __table_args__ = (Index(None, "site_id", "code"), Index(None, "unit_id"),
                      Index(None, "device_key"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    #: The meter's number (表号); a replaced meter's row keeps its own code.
    code: Mapped[str] = mapped_column(String(64))
    utility: Mapped[str] = mapped_column(String(16))  # UTILITIES
    scope: Mapped[str] = mapped_column(String(16))  # unit | shared (公摊)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    #: For a shared meter: the building whose units share it (None: the whole site).
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("buildings.id", ondelete="RESTRICT"))
    #: The edge device (site YAML id) and register name that read this meter.
    device_key: Mapped[str | None] = mapped_column(String(128))
    register: Mapped[str | None] = mapped_column(String(64))
    #: CT/PT ratio: billed consumption = register difference × multiplier.
    multiplier: Mapped[Decimal] = mapped_column(Quantity)
    #: The register wraps to zero after this value (e.g. 99999.99 on a 7-digit display).
    rollover_at: Mapped[Decimal | None] = mapped_column(Quantity)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    initial_reading: Mapped[Decimal] = mapped_column(Quantity)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    final_reading: Mapped[Decimal | None] = mapped_column(Quantity)
    #: The meter this one replaced.
    replaces_id: Mapped[int | None] = mapped_column(Integer)
