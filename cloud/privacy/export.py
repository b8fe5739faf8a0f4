"""A data subject's export: everything held about one person, as one JSON document.

Each section is what ``cloud.privacy.held`` selects, shown with the fields that are about the
person and nothing that is about someone else: a visitor pass of their flat is listed without
the visitor's name, a view of their record names their ids only (a list page shows many
residents at once), and images are refs, not bytes (the bytes are the site's evidence store;
the export says which exist). Times are UTC with the site's time beside them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access.tables import AccessPass
from cloud.auth.audit import jsonable
from cloud.parking.tables import VisitorPass
from cloud.privacy import held
from cloud.privacy.subject import Subject, Tenancy
from cloud.web.present import times

RESIDENT_FIELDS = ("role", "name", "phone", "id_number", "email", "move_in", "move_out",
                   "lease_start", "lease_end", "note")


def _resident(t: Tenancy) -> dict[str, Any]:
    r = t.resident
    out: dict[str, Any] = {"id": r.id, **{f: jsonable(getattr(r, f)) for f in RESIDENT_FIELDS}}
    out["pseudonymised_at"] = jsonable(getattr(r, "pseudonymised_at", None))
    out["unit"] = {"id": t.unit.id, "code": t.unit.code, "type": t.unit.unit_type,
                   "area": str(t.unit.area)}
    out["period"] = {"from": jsonable(t.start), "to": jsonable(t.end)}
    return out


async def _passes(session: AsyncSession, subject: Subject) -> list[dict[str, Any]]:
    """Door and parking passes issued for their flats inside a tenancy, without the visitor."""
    tz, out = subject.tz, []
    units = {t.unit.id for t in subject.tenancies}
    for p in (await session.scalars(select(AccessPass).where(
            AccessPass.site_id == subject.site.id, AccessPass.unit_id.in_(units))
            .order_by(AccessPass.id))).all():
        if subject.during(p.created_at, p.unit_id):
            out.append({"kind": "door", "id": p.id, "state": p.state, "uses": p.uses,
                        "used": p.used, "doors": list(p.doors),
                        **times("valid_from", p.valid_from, tz),
                        **times("valid_to", p.valid_to, tz)})
    codes = {t.unit.code: t.unit.id for t in subject.tenancies}
    for v in (await session.scalars(select(VisitorPass).where(
            VisitorPass.site_id == subject.site.id, VisitorPass.host_unit.in_(codes))
            .order_by(VisitorPass.id))).all():
        if v.host_unit is not None and subject.during(v.created_at, codes[v.host_unit]):
            out.append({"kind": "parking_visitor", "id": v.id,
                        **times("start_at", v.start_at, tz), **times("end_at", v.end_at, tz)})
    return out


async def build(session: AsyncSession, subject: Subject, now: datetime) -> dict[str, Any]:
    """The export document of ``subject`` as of ``now``."""
    tz = subject.tz
    ids = set(subject.ids)
    reads = await held.plate_reads(session, subject)
    doc: dict[str, Any] = {
        "format": "courtyard.people-export/1",
        "site": subject.site.slug,
        **times("generated_at", now, tz),
        "residents": [_resident(t) for t in subject.tenancies],
        "vehicles": [{"id": v.id, "plate": v.plate, "unit": v.unit_ref, "role": v.role,
                      "lots": list(v.lots)} for v in subject.vehicles],
        "cards": [{"id": c.id, "number": c.number, "state": c.state, "doors": list(c.doors),
                   "groups": list(c.groups or []), "revoked_reason": c.revoked_reason,
                   **times("created_at", c.created_at, tz),
                   **times("valid_to", c.valid_to, tz),
                   **times("revoked_at", c.revoked_at, tz)} for c in subject.cards],
        "passes": await _passes(session, subject),
        "monthly_passes": [{"id": m.id, "plate": m.plate, "valid_from": jsonable(m.valid_from),
                            "valid_to": jsonable(m.valid_to)}
                           for m in await held.monthly_passes(session, subject)],
        "plate_reads": [{"event_id": r.id, "kind": r.kind, **times("ts", r.ts, tz),
                         "lane": r.device, "plate": r.plate, "images": list(r.images)}
                        for r in reads],
        "parking_stays": [{"id": s.id, "plate": s.plate, "lot": s.lot, "state": s.state,
                           **times("entry_ts", s.entry_ts, tz),
                           **times("exit_ts", s.exit_ts, tz), "fee": jsonable(s.fee),
                           "paid": jsonable(s.paid)}
                          for s in await held.stays(session, subject)],
        "access_events": [{"event_id": e["id"], "kind": e["kind"], **times("ts", e["ts"], tz),
                           "device": e["device"], "door": e["door"],
                           "credential": e["credential"]}
                          for e in await held.access_events(session, subject)],
        "bills": [{"id": b.id, "number": b.number, "unit_id": b.unit_id, "period": b.period,
                   "state": b.state, "total": str(b.total), "paid": str(b.paid),
                   "due_date": jsonable(b.due_date)}
                  for b, _ in await held.bills(session, subject)],
        "payments": [{"id": p.id, "unit_id": p.unit_id, "kind": p.kind, "method": p.method,
                      "amount": str(p.amount), "payer": p.payer,
                      "receipt_number": p.receipt_number, **times("received_at", p.received_at,
                                                                  tz)}
                     for p in await held.payments(session, subject)],
        "work_orders": [{"id": o.id, "number": o.number, "category": o.category,
                         "state": o.state, "title": o.title_zh, "description": o.description,
                         "unit": o.unit, **times("opened_at", o.opened_at, tz),
                         **times("closed_at", o.closed_at, tz)}
                        for o in await held.work_orders(session, subject)],
        "face_consents": [{"id": c.id, "purpose": c.purpose, "evidence": c.evidence,
                           **times("given_at", c.given_at, tz),
                           **times("withdrawn_at", c.withdrawn_at, tz)}
                          for c in await held.consents(session, subject)],
        "faces": [{"id": f.id, "image": f.blob_ref, "bytes": f.bytes,
                   **times("created_at", f.created_at, tz)}
                  for f in await held.faces(session, subject)],
        "audit": [_audit(a, ids, tz) for a in await held.audit_rows(session, subject)],
        "requests": [{"id": q.id, "kind": q.kind, **times("at", q.at, tz),
                      "detail": q.detail} for q in await held.requests(session, sorted(ids))],
    }
    return doc


def _audit(a: Any, ids: set[int], tz: Any) -> dict[str, Any]:
    detail = dict(a.detail or {})
    if "ids" in detail:  # a list page's view names every row shown: keep theirs only
        detail["ids"] = [i for i in detail["ids"] if i in ids]
    detail.pop("sites", None)
    return {"id": a.id, "action": a.action, "entity_id": a.entity_id, "by": a.actor_name,
            **times("at", a.at, tz), "before": a.before, "after": a.after, "detail": detail}
