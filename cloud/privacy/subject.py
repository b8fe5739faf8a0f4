"""Who the data subject is, and which records are theirs.

A person is the resident row asked about plus the other rows of the same site with the same
ID number (someone who moved from one flat to another, or owns one and rents another): an ID
number names one person. A phone number does not (a household shares one, a parent registers a
child's), so rows are never joined by phone alone.

Everything else is tied to a person through a row and its **tenancy**: the unit and the
period from move-in to move-out (site calendar, both days included; an open move-out runs to
now). A vehicle is theirs when the register lists it for their unit under their name; a plate
read, a stay, a bill or a payment is theirs when it is of their unit or plates *inside* a
tenancy, so the family who moved in afterwards (same unit, maybe the same car park space)
never appears in their export nor is touched by their erasure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access.tables import AccessCard
from cloud.db.models import Site
from cloud.parking.tables import ParkingVehicle
from cloud.records.tables import Resident, Unit
from cloud.web.present import zone


@dataclass(frozen=True, slots=True)
class Tenancy:
    """One resident row: the unit and the UTC window [start, end) it covers."""

    resident: Resident
    unit: Unit
    start: datetime
    end: datetime

    def covers(self, ts: datetime) -> bool:
        return self.start <= ts < self.end


@dataclass(slots=True)
class Subject:
    """A person at one site: their rows, vehicles (plates) and cards."""

    site: Site
    tz: ZoneInfo
    tenancies: list[Tenancy]
    vehicles: list[ParkingVehicle] = field(default_factory=list)
    cards: list[AccessCard] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [t.resident.id for t in self.tenancies]

    @property
    def plates(self) -> set[str]:
        return {v.plate for v in self.vehicles}

    def during(self, ts: datetime | None, unit_id: int | None = None) -> bool:
        """Whether ``ts`` falls in a tenancy (of ``unit_id`` when given)."""
        return ts is not None and any(
            t.covers(ts) for t in self.tenancies if unit_id is None or t.unit.id == unit_id)

    def holder_ids(self) -> set[str]:
        """The holder ids the access dataset and door events carry for this person."""
        return {f"resident-{rid}" for rid in self.ids}


def _window(r: Resident, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    first = r.move_in or r.created_at.astimezone(tz).date()
    start = datetime.combine(first, time.min, tz)
    end = (datetime.combine(r.move_out + timedelta(days=1), time.min, tz)
           if r.move_out is not None else now + timedelta(seconds=1))
    return start, max(end, start)


async def load_subject(session: AsyncSession, resident: Resident, now: datetime,
                       default_tz: str = "Asia/Shanghai") -> Subject:
    """The person ``resident`` is, with their rows, vehicles and cards."""
    site = await session.get(Site, resident.site_id)
    assert site is not None  # a resident's site cascades its residents away
    tz = zone(site.timezone or default_tz, default_tz)
    query = select(Resident).where(Resident.site_id == resident.site_id)
    if resident.id_number:
        query = query.where((Resident.id == resident.id)
                            | (Resident.id_number == resident.id_number))
    else:
        query = query.where(Resident.id == resident.id)
    rows = list((await session.scalars(query.order_by(Resident.id))).all())
    rows.sort(key=lambda r: r.id != resident.id)  # the row asked about first: ``ids[0]``
    units = {u.id: u for u in (await session.scalars(select(Unit).where(
        Unit.id.in_({r.unit_id for r in rows})))).all()}
    tenancies = [Tenancy(r, units[r.unit_id], *_window(r, tz, now)) for r in rows]
    subject = Subject(site, tz, tenancies)
    subject.vehicles = await _vehicles(session, subject)
    subject.cards = list((await session.scalars(select(AccessCard).where(
        AccessCard.site_id == site.id, AccessCard.resident_id.in_(subject.ids))
        .order_by(AccessCard.id))).all())
    return subject


async def _vehicles(session: AsyncSession, subject: Subject) -> list[ParkingVehicle]:
    """The register's vehicles of their units held under their name (a vehicle row has no
    resident id: the register writes the holder's name and the unit, as the edge needs)."""
    pairs = {(t.unit.code, t.resident.name) for t in subject.tenancies}
    if not pairs:
        return []
    rows = (await session.scalars(select(ParkingVehicle).where(
        ParkingVehicle.site_id == subject.site.id,
        ParkingVehicle.unit_ref.in_({code for code, _ in pairs}),
        ParkingVehicle.holder.in_({name for _, name in pairs})).order_by(ParkingVehicle.id))).all()
    return [v for v in rows if (v.unit_ref, v.holder) in pairs]


def spans(subject: Subject) -> Iterable[tuple[datetime, datetime]]:
    return ((t.start, t.end) for t in subject.tenancies)
