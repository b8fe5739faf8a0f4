"""A data subject's erasure: delete what may be deleted, pseudonymise what must be kept.

Deleted: their vehicles and monthly passes (the edge forgets the plates at the next parking
version), their plates on the unit's parking spaces, the plate reads of their plates and the
images' events, the door events of their cards, their face data. Revoked and cleared: their
cards (a card row is the record that a number was once given out, so it stays, holding no one).
Kept, pseudonymised (accounting law keeps money records 30 years): the resident rows
(``cloud.retention.pseudonymise``), their name as payer on payments and receipts and as the
requester of work orders, their plate on parking stays and charges (amounts untouched).
Their audit rows keep who did what, with the personal values of before/after replaced.

Everything runs in the caller's transaction; the blobs no longer referenced are forgotten by
the caller after the commit (a failed commit then leaves the images, never a dangling ref).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access.tables import ACCESS_DATASET
from cloud.auth.audit import Actor, record
from cloud.auth.tables import AuditEntry
from cloud.db.models import Event
from cloud.parking.dataset import bump_version
from cloud.parking.tables import ParkingSpace, ParkingVehicle
from cloud.payments.tables import Receipt
from cloud.privacy import held
from cloud.privacy.faces import drop_faces
from cloud.privacy.subject import Subject
from cloud.retention.pseudonymise import placeholder, pseudonymise_resident

REASON = "个人信息删除请求 / erasure request"
ERASED = "[已删除 / erased]"
#: What an audit row of their resident rows, vehicles, passes and payments may hold about them.
PERSONAL = ("name", "phone", "id_number", "email", "note", "holder", "plate", "payer")
#: A parking stay must keep a plate (the column is required): this one names no one.
NO_PLATE = "-"
#: A cleared card's holder: no holder id form (``resident-<id>``, ``staff:``), so no one.
ERASED_HOLDER = "erased"


async def erase(session: AsyncSession, subject: Subject, now: datetime,
                actor: Actor) -> tuple[dict[str, int], list[str], list[tuple[str, int]]]:
    """Erase ``subject``; (counts per kind, blob refs to forget, (dataset, version) to announce)."""
    counts: Counter[str] = Counter()
    refs: list[str] = []
    announce: list[tuple[str, int]] = []
    site = subject.site.id
    names = {t.resident.name for t in subject.tenancies}
    plates = subject.plates
    # Read everything that is selected by plate, name or card before any of it changes.
    reads = await held.plate_reads(session, subject)
    doors = await held.access_events(session, subject)
    stays = await held.stays(session, subject)
    charges = await held.charges(session, subject)
    passes = await held.monthly_passes(session, subject)
    orders = await held.work_orders(session, subject)
    payments = await held.payments(session, subject)
    audits = await held.audit_rows(session, subject)
    alias = placeholder(subject.ids[0])

    if subject.vehicles or passes or plates:
        announce.append(("parking", await bump_version(session, site, now)))
        for v in subject.vehicles:
            await session.delete(v)
        for mp in passes:
            await session.delete(mp)
        counts["vehicles"] += len(subject.vehicles)
        counts["monthly_passes"] += len(passes)
        units = {t.unit.code for t in subject.tenancies}
        for space in (await session.scalars(select(ParkingSpace).where(
                ParkingSpace.site_id == site, ParkingSpace.plate.in_(plates),
                ParkingSpace.unit_ref.in_(units)))).all():
            space.plate, space.updated_at = None, now
            counts["space_plates"] += 1
    cards = subject.cards  # selected by resident id: none left once cleared
    if cards:
        announce.append((ACCESS_DATASET, await bump_version(session, site, now, ACCESS_DATASET)))
        for card in cards:
            if card.state == "active":
                card.state, card.revoked_reason, card.revoked_at = "revoked", REASON, now
            card.holder, card.resident_id = ERASED_HOLDER, None
        counts["cards"] += len(cards)

    for r in reads:
        refs.extend(r.images)
    ids = [r.id for r in reads] + [e["id"] for e in doors]
    for chunk in range(0, len(ids), 500):
        await session.execute(delete(Event).where(Event.site_id == site,
                                                  Event.id.in_(ids[chunk:chunk + 500])))
    counts["plate_reads"] += len(reads)
    counts["access_events"] += len(doors)

    for s in stays:
        s.plate = NO_PLATE
    for c in charges:
        c.plate = None
    counts["parking_stays"] += len(stays)
    counts["charges"] += len(charges)
    for pay in payments:
        if pay.payer in names:
            pay.payer = alias
            counts["payers"] += 1
    receipts = [pay.id for pay in payments]
    if receipts:
        for rc in (await session.scalars(select(Receipt).where(
                Receipt.payment_id.in_(receipts)))).all():
            body = dict(rc.body or {})
            if body.get("payer") in names:
                body["payer"] = alias
                rc.body = body
    said = sorted({v for t in subject.tenancies for v in (t.resident.name, t.resident.phone)
                   if v}, key=len, reverse=True)
    for o in orders:  # a call taker writes the caller's name into the title
        o.requested_by = alias
        o.title_zh, o.title_en = _unsaid(o.title_zh, said, alias), _unsaid(o.title_en, said,
                                                                           alias)
        o.description = _unsaid(o.description, said, alias)
    counts["work_orders"] += len(orders)

    gone = await drop_faces(session, subject.ids, now)
    refs.extend(gone)
    counts["faces"] += len(gone)
    for a in audits:
        if a.action != "view":
            a.before, a.after = _scrubbed(a.before), _scrubbed(a.after)
    counts["audit_rows_scrubbed"] += sum(1 for a in audits if a.action != "view")
    # The rows of what was deleted or renamed above held the same values.
    for entity, ids in (("vehicle", [v.id for v in subject.vehicles]),
                        ("monthly_pass", [mp.id for mp in passes]),
                        ("payment", [pay.id for pay in payments if pay.payer == alias])):
        counts["audit_rows_scrubbed"] += await _scrub_audit(session, entity, ids)
    for t in subject.tenancies:
        if await pseudonymise_resident(session, t.resident, now, actor):
            counts["residents"] += 1
    record(session, at=now, actor=actor, action="erase", entity="resident",
           entity_id=subject.ids[0], site_id=site, detail={"counts": dict(counts)})
    return dict(counts), refs, announce


def _unsaid(text: str, said: list[str], alias: str) -> str:
    for value in said:
        text = text.replace(value, alias)
    return text


def _scrubbed(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: (ERASED if k in PERSONAL and v else v) for k, v in values.items()}


async def _scrub_audit(session: AsyncSession, entity: str, ids: list[int]) -> int:
    """Replace the personal values in the before/after of ``entity`` rows ``ids``."""
    if not ids:
        return 0
    rows = (await session.scalars(select(AuditEntry).where(
        AuditEntry.entity == entity, AuditEntry.entity_id.in_([str(i) for i in ids])))).all()
    for a in rows:
        a.before, a.after = _scrubbed(a.before), _scrubbed(a.after)
    return len(rows)


async def vehicles_left(session: AsyncSession, site_id: int, plates: set[str]) -> int:
    """How many of ``plates`` the register still lists (a test and the report read it)."""
    if not plates:
        return 0
    return len((await session.scalars(select(ParkingVehicle.id).where(
        ParkingVehicle.site_id == site_id, ParkingVehicle.plate.in_(plates)))).all())
