"""The property register over HTTP: ``/api/companies``, ``/api/buildings``, ``/api/units``,
``/api/owners``, ``/api/tenants``, ``/api/vehicles``, ``/api/spaces``, ``/api/meters``, each
with list, get, create (POST), partial update (PATCH), history and, where nothing can depend on
the record any more, delete; spreadsheet templates, imports and exports under
``/api/imports`` and ``/api/{kind}/export``.

Lists page by id (``after_id`` → ``next_after_id``) like the parking lists, and only show the
sites the actor may see; a record of another site is a 404. Owners' and tenants' names,
phones, ID numbers and e-mails (and vehicle holders) are masked for actors without
``people.read``; for the others each response that shows them writes one ``view`` audit row.
Vehicles and spaces are the parking records the edge decides from: their edits bump the
parking dataset version and announce it like ``/api/sites/{site}/parking/…`` does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, actor_of, record
from cloud.auth.guard import requires
from cloud.auth.plates import plates_masked
from cloud.db.models import Site
from cloud.parking.records import RecordError
from cloud.parking.tables import PARKING_DATASET
from cloud.records import service as svc
from cloud.records.http import Handler, api_error, guarded
from cloud.records.import_kinds import IMPORT_KINDS
from cloud.records.kinds import (
    COMPANIES,
    KINDS,
    METERS,
    OWNERS,
    SPACES,
    TENANTS,
    UNITS,
    VEHICLES,
    Kind,
    present,
)
from cloud.records.mask import (
    guard_people,
    mask_plates,
    mask_rows,
    shows_people,
    shows_plates,
)
from cloud.records.tables import BillingMeter, Building, Company, Resident, SiteCompany, Unit
from cloud.web.body import json_object
from cloud.web.errors import bad_param
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS, SYNC
from cloud.web.params import flag_param, int_param, text_param
from cloud.web.present import times
from cloud.web.respond import json_ok
from cloud.web.tabular import attachment, format_param, write_table

MAX_ID = 2**31 - 1
LIST_DEFAULT_LIMIT = 100
LIST_MAX_LIMIT = 1000
DELETABLE = frozenset({"companies", "buildings", "units", "vehicles", "spaces"})


def _handler(permission: str, fn: Handler) -> Handler:
    return requires(permission)(plates_masked(guarded(fn)))





def _row_id(request: web.Request, kind: Kind) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise api_error(svc.not_found(kind, raw[:40]))
    return int(raw)


def _announce(request: web.Request, change: svc.Change) -> None:
    publisher = request.app.get(SYNC)
    if change.version is not None and change.site is not None and publisher is not None:
        publisher.notify(change.site.slug, PARKING_DATASET, change.version)
    if change.site is not None and publisher is not None:
        for dataset, version in change.announce:
            publisher.notify(change.site.slug, dataset, version)


async def _shown(session: AsyncSession, request: web.Request, kind: Kind,
                 rows: list[Any]) -> list[dict[str, Any]]:
    """Rows as JSON (unmasked), each with its site's local times."""
    labels = await svc.labels_for(session, rows)
    default = request.app[DEFAULT_TZ]
    zones: dict[int, str | None] = {}
    site_ids = {r.site_id for r in rows if kind.site_scoped}
    if site_ids:
        zones = dict((await session.execute(select(Site.id, Site.timezone).where(
            Site.id.in_(site_ids)))).all())
    out = []
    for r in rows:
        tz = svc.zone(zones.get(r.site_id) or default, default) if kind.site_scoped else \
            svc.zone(default, default)
        out.append(present(kind, r, labels, tz))
    if kind is COMPANIES and rows:
        runs = (await session.execute(select(SiteCompany.company_id, Site.slug).join(
            Site, Site.id == SiteCompany.site_id).where(
                SiteCompany.company_id.in_([r.id for r in rows])).order_by(Site.slug))).all()
        for item in out:
            item["sites"] = [slug for cid, slug in runs if cid == item["id"]]
    return out


async def _people(session: AsyncSession, request: web.Request, kind: Kind,
                  items: list[dict[str, Any]]) -> None:
    await guard_people(session, actor_of(request), kind.entity, items, kind.personal,
                       at=request.app[CLOCK].now(), reason=f"{request.method} {request.path}")


# --- filters ------------------------------------------------------------------------------


def _choice(request: web.Request, name: str, choices: Any) -> str | None:
    raw = text_param(request, name, 32)
    if raw is not None and raw not in choices:
        raise bad_param(name, f"须为 {' / '.join(choices)} 之一",
                        f"must be one of {', '.join(choices)}")
    return raw


async def _filters(kind: Kind, request: web.Request, query: Select[Any],
                   actor: Actor) -> Select[Any]:
    m = kind.model
    q = text_param(request, "q", 100)
    unit = text_param(request, "unit", 64)
    if kind is COMPANIES:
        return svc.search(query, [Company.code, Company.name], q)
    if kind.name == "buildings":
        return svc.search(query, [Building.code, Building.name], q)
    if kind is UNITS:
        building = text_param(request, "building", 32)
        if building is not None:
            query = query.where(Unit.building_id.in_(
                select(Building.id).where(Building.code == building)))
        status = _choice(request, "status", UNITS.by_key("status").choices)
        if status is not None:
            query = query.where(Unit.status == status)
        utype = _choice(request, "type", UNITS.by_key("unit_type").choices)
        if utype is not None:
            query = query.where(Unit.unit_type == utype)
        return svc.search(query, [Unit.code], q)
    if kind in (OWNERS, TENANTS):
        if unit is not None:
            query = query.where(Resident.unit_id.in_(select(Unit.id).where(Unit.code == unit)))
        current = flag_param(request, "current")
        if current is not None:
            query = query.where(Resident.move_out.is_(None) if current
                                else Resident.move_out.is_not(None))
        if q:
            by_unit = Resident.unit_id.in_(select(Unit.id).where(svc.text_match(Unit.code, q)))
            if shows_people(actor):  # searching by name or phone would reveal them
                query = query.where(by_unit | svc.text_match(Resident.name, q)
                                    | svc.text_match(Resident.phone, q))
            else:
                query = query.where(by_unit)
        return query
    if kind is VEHICLES:
        if unit is not None:
            query = query.where(m.unit_ref == unit)
        cols = [m.plate, m.unit_ref] + ([m.holder] if shows_people(actor) else [])
        return svc.search(query, cols, q)
    if kind is SPACES:
        if unit is not None:
            query = query.where(m.unit_ref == unit)
        lot = text_param(request, "lot", 64)
        if lot is not None:
            query = query.where(m.lot == lot)
        skind = _choice(request, "kind", SPACES.by_key("kind").choices)
        if skind is not None:
            query = query.where(m.kind == skind)
        return svc.search(query, [m.code, m.plate, m.unit_ref], q)
    if kind is METERS:
        if unit is not None:
            query = query.where(BillingMeter.unit_id.in_(
                select(Unit.id).where(Unit.code == unit)))
        building = text_param(request, "building", 32)
        if building is not None:
            query = query.where(BillingMeter.building_id.in_(
                select(Building.id).where(Building.code == building)))
        utility = _choice(request, "utility", METERS.by_key("utility").choices)
        if utility is not None:
            query = query.where(BillingMeter.utility == utility)
        device = text_param(request, "device", 128)
        if device is not None:
            query = query.where(BillingMeter.device_key == device)
        active = flag_param(request, "active")
        if active is not None:
            query = query.where(BillingMeter.removed_at.is_(None) if active
                                else BillingMeter.removed_at.is_not(None))
        return svc.search(query, [BillingMeter.code, BillingMeter.device_key], q)
    return query


# --- the generic handlers -----------------------------------------------------------------


def _list(kind: Kind) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        actor = actor_of(request)
        after = int_param(request, "after_id", 0, 0, MAX_ID)
        limit = int_param(request, "limit", LIST_DEFAULT_LIMIT, 1, LIST_MAX_LIMIT)
        slug = text_param(request, "site", 63)
        m = kind.model
        async with request.app[SESSIONS]() as session, session.begin():
            query = svc.scoped(select(m), kind, actor).where(m.id > after)
            if slug is not None and kind.site_scoped:
                site = await svc.visible_site(session, actor, slug)
                query = query.where(m.site_id == site.id)
            elif slug is not None:
                site = await svc.visible_site(session, actor, slug)
                query = query.where(m.id.in_(select(SiteCompany.company_id).where(
                    SiteCompany.site_id == site.id)))
            query = await _filters(kind, request, query, actor)
            rows = list((await session.scalars(query.order_by(m.id).limit(limit + 1))).all())
            more = len(rows) > limit
            rows = rows[:limit]
            items = await _shown(session, request, kind, rows)
            await _people(session, request, kind, items)
        return json_ok({kind.name: items, "next_after_id": rows[-1].id if more else None})
    handler.__doc__ = f"List {kind.en} records in id order."
    return _handler(kind.read_perm(), handler)


def _get(kind: Kind) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        row_id = _row_id(request, kind)
        async with request.app[SESSIONS]() as session, session.begin():
            row = await svc.get_row(session, kind, row_id, actor_of(request))
            items = await _shown(session, request, kind, [row])
            await _people(session, request, kind, items)
        return json_ok(items[0])
    handler.__doc__ = f"One {kind.en}."
    return _handler(kind.read_perm(), handler)


async def _write(request: web.Request, kind: Kind,
                 op: Callable[[AsyncSession, Actor], Awaitable[svc.Change]],
                 status: int = 200, deleted: bool = False) -> web.Response:
    actor = actor_of(request)
    async with request.app[SESSIONS]() as session:
        async with session.begin():
            change = await op(session, actor)
        items = [] if deleted else await _shown(session, request, kind, [change.row])
    _announce(request, change)
    if deleted:
        return json_ok({"deleted": change.row.id, "version": change.version})
    item = items[0]
    if kind.parking:
        item["version"] = change.version
    # The writer sent these values; showing them back is not a view of someone else's data.
    if not shows_people(actor):
        mask_rows([item], kind.personal)
    return json_ok(item, status=status)


def _create(kind: Kind) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await json_object(request, decimals=True)
        now, tz = request.app[CLOCK].now(), request.app[DEFAULT_TZ]
        return await _write(request, kind, lambda s, a: svc.create(
            s, kind, body, actor=a, now=now, default_tz=tz), status=201)
    handler.__doc__ = f"Create a {kind.en}."
    return _handler(kind.write_perm(), handler)


def _update(kind: Kind) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        row_id = _row_id(request, kind)
        body = await json_object(request, decimals=True)
        now, tz = request.app[CLOCK].now(), request.app[DEFAULT_TZ]

        async def op(session: AsyncSession, actor: Actor) -> svc.Change:
            row = await svc.get_row(session, kind, row_id, actor)
            return await svc.update(session, kind, row, body, actor=actor, now=now,
                                    default_tz=tz)
        return await _write(request, kind, op)
    handler.__doc__ = f"Change some fields of a {kind.en}."
    return _handler(kind.write_perm(), handler)


def _delete(kind: Kind) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        row_id = _row_id(request, kind)
        now = request.app[CLOCK].now()

        async def op(session: AsyncSession, actor: Actor) -> svc.Change:
            row = await svc.get_row(session, kind, row_id, actor)
            return await svc.delete(session, kind, row, actor=actor, now=now)
        return await _write(request, kind, op, deleted=True)
    handler.__doc__ = f"Delete a {kind.en} nothing refers to."
    return _handler(kind.write_perm(), handler)


def _history(kind: Kind) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        row_id = _row_id(request, kind)
        after = int_param(request, "after_id", 0, 0, 2**63 - 1)
        limit = int_param(request, "limit", LIST_DEFAULT_LIMIT, 1, LIST_MAX_LIMIT)
        actor = actor_of(request)
        default = request.app[DEFAULT_TZ]
        async with request.app[SESSIONS]() as session, session.begin():
            try:
                row = await svc.get_row(session, kind, row_id, actor)
                site = await svc.site_of(session, row)
            except RecordError:
                row = site = None
            entries = await svc.history(session, kind, row_id, after, limit + 1)
            if row is None and (not entries or not actor.may_see(entries[0].site_id)
                                or await session.get(kind.model, row_id) is not None):
                raise svc.not_found(kind, row_id)  # history of a deleted record stays readable
            more = len(entries) > limit
            entries = entries[:limit]
            tz = svc.site_zone(site, default)
            items: list[dict[str, Any]] = [
                {"id": e.id, **times("at", e.at, tz), "actor": e.actor,
                 "actor_name": e.actor_name, "action": e.action,
                 # Copies: masking below must not touch the loaded audit rows.
                 "before": dict(e.before) if e.before else e.before,
                 "after": dict(e.after) if e.after else e.after, "detail": e.detail}
                for e in entries]
            personal = list(kind.personal)
            if personal and items:
                docs: list[dict[str, Any]] = [item[k] for item in items
                                              for k in ("before", "after") if item[k]]
                if not shows_people(actor):
                    mask_rows(docs, personal)
                elif any(d.get(k) for d in docs for k in personal):
                    record(session, at=request.app[CLOCK].now(), actor=actor, action="view",
                           entity=kind.entity, site_id=getattr(row, "site_id", None),
                           detail={"ids": [row_id], "fields": personal,
                                   "reason": f"GET {request.path}"})
        return json_ok({"entity": kind.entity, "id": row_id, "history": items,
                        "next_after_id": entries[-1].id if more else None})
    handler.__doc__ = f"The change history of a {kind.en}, oldest first."
    return _handler(kind.read_perm(), handler)


# --- companies and sites, meter replacement -----------------------------------------------


@requires("records.write")
@guarded
async def assign_site(request: web.Request) -> web.Response:
    """Make the company run a site (moving it from its previous company, if any)."""
    company_id = _row_id(request, COMPANIES)
    body = await json_object(request, decimals=True)
    actor, now = actor_of(request), request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        company = await svc.get_row(session, COMPANIES, company_id, actor)
        site = await svc.visible_site(session, actor, body.get("site"))
        link = await session.get(SiteCompany, site.id)
        before_code = None
        if link is not None:
            prev = await session.get(Company, link.company_id)
            before_code = prev.code if prev is not None else None
            link.company_id = company.id
        else:
            session.add(SiteCompany(site_id=site.id, company_id=company.id))
        record(session, at=now, actor=actor, action="assign_site", entity=COMPANIES.entity,
               entity_id=company.id, site_id=site.id,
               before={"site": site.slug, "company": before_code},
               after={"site": site.slug, "company": company.code})
    return json_ok({"company": company.code, "site": site.slug,
                    "previous_company": before_code})


@requires("records.write")
@guarded
async def unassign_site(request: web.Request) -> web.Response:
    company_id = _row_id(request, COMPANIES)
    actor, now = actor_of(request), request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        company = await svc.get_row(session, COMPANIES, company_id, actor)
        site = await svc.visible_site(session, actor, request.match_info["site"])
        link = await session.get(SiteCompany, site.id)
        if link is None or link.company_id != company.id:
            raise RecordError("site", f"小区 {site.slug} 不归此公司管理",
                              f"site {site.slug} is not run by this company",
                              code="not_found", status=404)
        await session.delete(link)
        record(session, at=now, actor=actor, action="unassign_site", entity=COMPANIES.entity,
               entity_id=company.id, site_id=site.id,
               before={"site": site.slug, "company": company.code},
               after={"site": site.slug, "company": None})
    return json_ok({"company": company.code, "site": site.slug, "unassigned": True})


@requires("records.write")
@guarded
async def replace_meter(request: web.Request) -> web.Response:
    """Close the meter with its final reading and open its successor, in one transaction."""
    meter_id = _row_id(request, METERS)
    body = await json_object(request, decimals=True)
    actor, now = actor_of(request), request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        async with session.begin():
            old = await svc.get_row(session, METERS, meter_id, actor)
            new = await svc.replace_meter(session, old, body, actor=actor, now=now,
                                          default_tz=request.app[DEFAULT_TZ])
        old_json, new_json = await _shown(session, request, METERS, [old, new])
    return json_ok({"old": old_json, "new": new_json}, status=201)


# --- imports and exports ------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """A list (a vehicle's lots) as the comma-separated text the import reads back."""
    return ",".join(map(str, value)) if isinstance(value, list) else value


def _export(kind: Kind) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        fmt = format_param(request)
        actor = actor_of(request)
        m = kind.model
        async with request.app[SESSIONS]() as session, session.begin():
            site = await svc.visible_site(session, actor, request.query.get("site"))
            query = svc.scoped(select(m), kind, actor).where(m.site_id == site.id)
            if kind is METERS:
                query = query.where(BillingMeter.removed_at.is_(None))
            rows = list((await session.scalars(query.order_by(m.id))).all())
            items = await _shown(session, request, kind, rows)
            await _people(session, request, kind, items)
        if not shows_plates(actor):  # a spreadsheet is JSON's twin: the same masked plates
            items = mask_plates(items)
        data = write_table([f.header for f in kind.fields],
                           ([_cell(item[f.key]) for f in kind.fields] for item in items),
                           fmt, sheet=kind.name)  # type: ignore[arg-type]
        return attachment(data, fmt, f"{kind.name}-{site.slug}.{fmt}")
    handler.__doc__ = f"Export a site's {kind.en} records in the import template's columns."
    return _handler(kind.read_perm(), handler)


# --- routes -------------------------------------------------------------------------------


def add_record_routes(app: web.Application) -> None:
    """Register the register's routes, import jobs and pages."""
    r = app.router
    for kind in KINDS.values():
        base = f"/api/{kind.name}"
        if kind.name in IMPORT_KINDS:
            r.add_get(f"{base}/export", _export(kind), name=f"records_{kind.name}_export")
        r.add_get(base, _list(kind), name=f"records_{kind.name}")
        r.add_post(base, _create(kind))
        r.add_get(f"{base}/{{id}}", _get(kind), name=f"records_{kind.name}_item")
        r.add_patch(f"{base}/{{id}}", _update(kind))
        if kind.name in DELETABLE:
            r.add_delete(f"{base}/{{id}}", _delete(kind))
        r.add_get(f"{base}/{{id}}/history", _history(kind),
                  name=f"records_{kind.name}_history")
    r.add_post("/api/companies/{id}/sites", assign_site)
    r.add_delete("/api/companies/{id}/sites/{site}", unassign_site)
    r.add_post("/api/meters/{id}/replace", replace_meter)
