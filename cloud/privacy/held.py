"""The records held about a subject (``cloud.privacy.subject``), one query per kind.

Export lists them and erasure acts on them, so both read the same selection: what an export
shows is exactly what an erasure would touch. Events are selected by column and JSON key,
never whole, so an old event that still carries its images inline is not loaded for its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.tables import AuditEntry
from cloud.billing.tables import Bill, BillRun
from cloud.db.models import Event
from cloud.parking.tables import Charge, MonthlyPass, ParkingSession
from cloud.payments.tables import Payment
from cloud.privacy.subject import Subject
from cloud.privacy.tables import Face, FaceConsent, PrivacyRequest
from cloud.workorders.tables import WorkOrder
from contract.kinds import Kind
from parkingrules.plates import normalize

PLATE_READ, PLATE_EVIDENCE = str(Kind.PLATE_READ), str(Kind.PLATE_EVIDENCE)
ACCESS_KINDS = (str(Kind.ACCESS_GRANTED), str(Kind.ACCESS_DENIED), str(Kind.ACCESS_DURESS))
IMAGE_REFS = ("evidence_blob", "crop_blob")


@dataclass(frozen=True, slots=True)
class Read:
    """A plate read or its images' event: where, when, and the image refs (never bytes)."""

    id: int
    kind: str
    uuid: str
    ts: datetime
    device: str
    plate: str | None
    images: tuple[str, ...]


def _bounds(subject: Subject) -> tuple[datetime, datetime]:
    return (min(t.start for t in subject.tenancies), max(t.end for t in subject.tenancies))


def _refs(*values: Any) -> tuple[str, ...]:
    return tuple(v for v in values if isinstance(v, str) and v.startswith("sha256:"))


async def plate_reads(session: AsyncSession, subject: Subject) -> list[Read]:
    """``plate.read`` events of their plates inside a tenancy, and the ``plate.evidence``
    events carrying those reads' images."""
    plates = subject.plates
    if not plates or not subject.tenancies:
        return []
    start, end = _bounds(subject)
    d = Event.data
    rows = (await session.execute(
        select(Event.id, Event.uuid, Event.ts, Event.device, d["plate_raw"].as_string(),
               *(d[k].as_string() for k in IMAGE_REFS))
        .where(Event.site_id == subject.site.id, Event.kind == PLATE_READ,
               Event.ts >= start, Event.ts < end).order_by(Event.id))).all()
    reads = [Read(int(i), PLATE_READ, u, ts, dev, normalize(raw), _refs(*refs))
             for i, u, ts, dev, raw, *refs in rows
             if raw is not None and normalize(raw) in plates and subject.during(ts)]
    if not reads:
        return []
    by_uuid = {r.uuid: r for r in reads}
    later = (await session.execute(
        select(Event.id, Event.uuid, Event.ts, Event.device, d["read"].as_string(),
               *(d[k].as_string() for k in IMAGE_REFS))
        .where(Event.site_id == subject.site.id, Event.kind == PLATE_EVIDENCE,
               Event.ts >= start).order_by(Event.id))).all()
    evidence = [Read(int(i), PLATE_EVIDENCE, u, ts, dev, by_uuid[read].plate, _refs(*refs))
                for i, u, ts, dev, read, *refs in later if read in by_uuid]
    return reads + evidence


async def access_events(session: AsyncSession, subject: Subject) -> list[dict[str, Any]]:
    """Door events naming them as holder, or presenting one of their cards while it was
    theirs, inside a tenancy."""
    if not subject.tenancies:
        return []
    start, end = _bounds(subject)
    holders = subject.holder_ids()
    cards = [(str(c.number), c.created_at, c.revoked_at) for c in subject.cards]
    d = Event.data
    rows = (await session.execute(
        select(Event.id, Event.kind, Event.ts, Event.device, d["door"].as_string(),
               d["holder"].as_string(), d["credential"].as_string())
        .where(Event.site_id == subject.site.id, Event.kind.in_(ACCESS_KINDS),
               Event.ts >= start, Event.ts < end).order_by(Event.id))).all()
    out = []
    for i, kind, ts, dev, door, holder, credential in rows:
        theirs = holder in holders or any(
            credential == number and made <= ts and (gone is None or ts < gone)
            for number, made, gone in cards)
        if theirs and subject.during(ts):
            out.append({"id": int(i), "kind": kind, "ts": ts, "device": dev, "door": door,
                        "credential": credential})
    return out


async def stays(session: AsyncSession, subject: Subject) -> list[ParkingSession]:
    """Parking stays of their plates that began inside a tenancy."""
    if not subject.plates:
        return []
    rows = (await session.scalars(select(ParkingSession).where(
        ParkingSession.site_id == subject.site.id,
        ParkingSession.plate.in_(subject.plates)).order_by(ParkingSession.id))).all()
    return [s for s in rows if subject.during(s.entry_ts or s.exit_ts)]


async def charges(session: AsyncSession, subject: Subject) -> list[Charge]:
    if not subject.plates:
        return []
    rows = (await session.scalars(select(Charge).where(
        Charge.site_id == subject.site.id, Charge.plate.in_(subject.plates))
        .order_by(Charge.id))).all()
    return [c for c in rows if subject.during(c.created_at)]


async def monthly_passes(session: AsyncSession, subject: Subject) -> list[MonthlyPass]:
    if not subject.plates:
        return []
    return list((await session.scalars(select(MonthlyPass).where(
        MonthlyPass.site_id == subject.site.id, MonthlyPass.plate.in_(subject.plates))
        .order_by(MonthlyPass.id))).all())


async def bills(session: AsyncSession, subject: Subject) -> list[tuple[Bill, BillRun]]:
    """Bills of their units whose period overlaps a tenancy of that unit."""
    units = {t.unit.id for t in subject.tenancies}
    rows = (await session.execute(select(Bill, BillRun).join(BillRun, BillRun.id == Bill.run_id)
                                  .where(Bill.unit_id.in_(units)).order_by(Bill.id))).all()
    out = []
    for bill, run in rows:
        first = datetime.combine(run.period_start, datetime.min.time(), subject.tz)
        after = datetime.combine(run.period_end, datetime.min.time(), subject.tz)
        if any(t.unit.id == bill.unit_id and first < t.end and after > t.start
               for t in subject.tenancies):
            out.append((bill, run))
    return out


async def payments(session: AsyncSession, subject: Subject) -> list[Payment]:
    """Payments for their units received inside a tenancy of that unit."""
    units = {t.unit.id for t in subject.tenancies}
    rows = (await session.scalars(select(Payment).where(Payment.unit_id.in_(units))
                                  .order_by(Payment.id))).all()
    return [p for p in rows if subject.during(p.received_at, p.unit_id)]


def identities(subject: Subject) -> set[str]:
    """How a work order's ``requested_by`` may name them: a name, phone or resident id."""
    out = set(subject.holder_ids()) | {f"resident:{rid}" for rid in subject.ids}
    for t in subject.tenancies:
        out |= {v for v in (t.resident.name, t.resident.phone) if v}
    return out


async def work_orders(session: AsyncSession, subject: Subject) -> list[WorkOrder]:
    """Work orders about their unit that they asked for, opened inside that tenancy."""
    codes = {t.unit.code: t.unit.id for t in subject.tenancies}
    who = identities(subject)
    rows = (await session.scalars(select(WorkOrder).where(
        WorkOrder.site_id == subject.site.id, WorkOrder.unit.in_(codes),
        WorkOrder.requested_by.in_(who)).order_by(WorkOrder.id))).all()
    return [o for o in rows if o.unit is not None
            and subject.during(o.opened_at, codes[o.unit])]


async def audit_rows(session: AsyncSession, subject: Subject) -> list[AuditEntry]:
    """Audit rows of their resident rows: changes, and views naming them in ``detail.ids``."""
    ids = set(subject.ids)
    changes = (await session.scalars(select(AuditEntry).where(
        AuditEntry.entity == "resident",
        AuditEntry.entity_id.in_([str(i) for i in ids])))).all()
    first = min((t.resident.created_at for t in subject.tenancies), default=None)
    views = select(AuditEntry).where(AuditEntry.entity == "resident",
                                     AuditEntry.action == "view")
    if first is not None:
        views = views.where(AuditEntry.at >= first)
    seen = [a for a in (await session.scalars(views)).all()
            if isinstance(a.detail, dict) and ids & set(a.detail.get("ids") or [])]
    return sorted({a.id: a for a in (*changes, *seen)}.values(), key=lambda a: a.id)


async def consents(session: AsyncSession, subject: Subject) -> list[FaceConsent]:
    return list((await session.scalars(select(FaceConsent).where(
        FaceConsent.resident_id.in_(subject.ids)).order_by(FaceConsent.id))).all())


async def faces(session: AsyncSession, subject: Subject) -> list[Face]:
    return list((await session.scalars(select(Face).where(
        Face.resident_id.in_(subject.ids)).order_by(Face.id))).all())


async def requests(session: AsyncSession, resident_ids: list[int]) -> list[PrivacyRequest]:
    return list((await session.scalars(select(PrivacyRequest).where(
        PrivacyRequest.resident_id.in_(resident_ids)).order_by(PrivacyRequest.id))).all())
