"""One search box for a site's units: ``GET /api/search?site=&q=``.

A clerk at the desk hears "1-1-101", "张", "the number ending 5678" or "沪A 12345" and wants the
unit. The query is tried as a unit code, a current resident's name, a phone number (its last
four digits or the whole number, ignoring spaces, dashes and a leading +) and a plate (spelt
the way plates are stored, so case, spaces and full-width letters do not matter). Each unit is
answered once, with the first way it was found (``matched``: unit, name, phone, plate).

Names and phones are personal data: a role without ``people.read`` gets them masked, and is
not offered name or phone matching at all (a hit would reveal them), as ``/api/owners?q=``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, actor_of
from cloud.auth.guard import requires
from cloud.auth.plates import plates_masked
from cloud.db.models import Site
from cloud.parking.tables import ParkingVehicle
from cloud.records import service as svc
from cloud.records.http import guarded
from cloud.records.mask import guard_people, shows_people
from cloud.records.tables import RESIDENT_ROLES, Building, Resident, Unit
from cloud.web.errors import bad_param
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.params import text_param
from cloud.web.respond import json_ok
from parkingrules.plates import normalize

MAX_RESULTS = 20
MAX_QUERY = 100
#: Fewer digits than this match too many phones to mean anything.
PHONE_MIN_DIGITS = 4
MATCHES = ("unit", "name", "phone", "plate")


def _ilike(column: Any, text: str) -> Any:
    return column.ilike(svc.like(text), escape="\\")


def phone_digits(text: str) -> str | None:
    """The digits of a phone-like query, or None when it is not one."""
    digits = text.replace(" ", "").replace("-", "").removeprefix("+")
    return digits if digits.isascii() and digits.isdigit() and \
        len(digits) >= PHONE_MIN_DIGITS else None


def _stored_digits(column: Any) -> Any:
    return func.replace(func.replace(func.replace(column, " ", ""), "-", ""), "+", "")


async def _unit_ids(session: AsyncSession, site: Site, q: str,
                    people: bool) -> dict[int, str]:
    """Unit id → how it was found, in the order of ``MATCHES``, at most ``MAX_RESULTS``."""
    found: dict[int, str] = {}

    def add(ids: Any, how: str) -> None:
        for uid in ids:
            if len(found) < MAX_RESULTS:
                found.setdefault(int(uid), how)

    add((await session.scalars(
        select(Unit.id).where(Unit.site_id == site.id, _ilike(Unit.code, q))
        .order_by(case((Unit.code == q, 0), else_=1), Unit.code).limit(MAX_RESULTS))).all(),
        "unit")
    current = (Resident.site_id == site.id, Resident.move_out.is_(None))
    if people:
        add((await session.scalars(
            select(Resident.unit_id).where(*current, _ilike(Resident.name, q))
            .order_by(Resident.unit_id).limit(MAX_RESULTS))).all(), "name")
        digits = phone_digits(q)
        if digits is not None:
            add((await session.scalars(
                select(Resident.unit_id).where(
                    *current, _stored_digits(Resident.phone).like(f"%{digits}"))
                .order_by(Resident.unit_id).limit(MAX_RESULTS))).all(), "phone")
    plate = normalize(q)
    if len(plate) >= 2:
        refs = (await session.scalars(
            select(ParkingVehicle.unit_ref).where(
                ParkingVehicle.site_id == site.id, ParkingVehicle.unit_ref.is_not(None),
                ParkingVehicle.plate.like(svc.like(plate), escape="\\"))
            .order_by(ParkingVehicle.plate).limit(MAX_RESULTS))).all()
        if refs:
            by_code = dict((await session.execute(select(Unit.code, Unit.id).where(
                Unit.site_id == site.id, Unit.code.in_(set(refs))))).all())
            add((by_code[r] for r in refs if r in by_code), "plate")
    return found


async def search_units(session: AsyncSession, actor: Actor, site: Site, q: str, *,
                       reason: str, now: Any) -> list[dict[str, Any]]:
    """The answer's ``results``, personal fields masked or their view audited."""
    found = await _unit_ids(session, site, q, shows_people(actor))
    if not found:
        return []
    units = {u.id: u for u in (await session.scalars(
        select(Unit).where(Unit.id.in_(found)))).all()}
    buildings = dict((await session.execute(select(Building.id, Building.name).where(
        Building.id.in_({u.building_id for u in units.values()})))).all())
    residents = (await session.scalars(select(Resident).where(
        Resident.unit_id.in_(found), Resident.move_out.is_(None)).order_by(
        case(*((Resident.role == r, i) for i, r in enumerate(RESIDENT_ROLES)), else_=9),
        Resident.id))).all()
    codes = {u.code: u.id for u in units.values()}
    vehicles = (await session.execute(select(ParkingVehicle.unit_ref, ParkingVehicle.plate)
                                      .where(ParkingVehicle.site_id == site.id,
                                             ParkingVehicle.unit_ref.in_(codes))
                                      .order_by(ParkingVehicle.plate))).all()
    people = [{"id": r.id, "name": r.name, "role": r.role, "phone": r.phone,
               "site": site.slug, "unit_id": r.unit_id} for r in residents]
    await guard_people(session, actor, "resident", people, ("name", "phone"), at=now,
                       reason=reason)
    results = []
    for uid, how in found.items():
        unit = units.get(uid)
        if unit is None:
            continue
        results.append({
            "unit_id": uid, "unit": unit.code, "building": buildings.get(unit.building_id),
            "residents": [{k: p[k] for k in ("id", "name", "role", "phone")}
                          for p in people if p["unit_id"] == uid],
            "plates": [plate for ref, plate in vehicles if ref == unit.code],
            "matched": how})
    return results


@requires("records.read")
@guarded
async def search(request: web.Request) -> web.Response:
    """Find a site's units by unit code, resident name, phone or plate (at most 20)."""
    q = (text_param(request, "q", MAX_QUERY) or "").strip()
    if not q:
        raise bad_param("q", "必填：房号、姓名、电话或车牌", "required: a unit code, name, "
                        "phone or plate")
    actor = actor_of(request)
    async with request.app[SESSIONS]() as session, session.begin():
        site = await svc.visible_site(session, actor, request.query.get("site"))
        results = await search_units(session, actor, site, q, now=request.app[CLOCK].now(),
                                     reason=f"GET {request.path}")
    return json_ok({"site": site.slug, "q": q, "results": results})


def add_search_route(app: web.Application) -> None:
    app.router.add_get("/api/search", plates_masked(search), name="records_search")
