"""The equipment ledger and PM plans: ``/api/assets`` and ``/api/maintenance-plans``.

A plan is posted in the YAML's shape (``configs/maintenance/plans.yaml``) as JSON under
``plan``; a refusal names its JSON path (``plan.tiers[1].every``). ``POST
/api/maintenance-plans/generate`` runs the PM generator now instead of waiting for its hour.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.auth.guard import requires
from cloud.auth.scope import allowed_sites, ensure_visible, scoped
from cloud.db.models import Site
from cloud.maintenance.generator import generate
from cloud.maintenance.schedule import site_today
from cloud.maintenance.store import PlanInvalid, asset_report, plan_from_json, plan_to_json
from cloud.maintenance.tables import AssetRecord, MaintenancePlan, MaintenanceVisit
from cloud.web.body import json_object, text_field, unknown_fields
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS
from cloud.web.params import text_param, time_param
from cloud.web.present import times, zone
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok
from cloud.workorders.present import order_json

MAX_ID = 2**31 - 1
STATS_DAYS = 365
ASSET_FIELDS = ("site", "code", "kind", "name", "make", "model", "serial", "install_date",
                "warranty_until", "contract", "building", "device", "active")


def _day(body: dict[str, Any], name: str, required: bool) -> date | None:
    raw = body.get(name)
    if raw is None and not required:
        return None
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        return None


def _date_field(body: dict[str, Any], name: str, required: bool = True) -> date | None:
    value = _day(body, name, required)
    if value is None and (required or body.get(name) is not None):
        raise bad_param(name, "须为日期 YYYY-MM-DD", "must be a date, YYYY-MM-DD")
    return value


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, True)
    if not isinstance(value, bool):
        raise bad_param(name, "须为 true 或 false", "must be true or false")
    return value


def asset_json(a: AssetRecord, site: str) -> dict[str, Any]:
    return {"id": a.id, "site": site, "code": a.code, "kind": a.kind, "name": a.name,
            "make": a.make, "model": a.model, "serial": a.serial,
            "install_date": a.install_date.isoformat(),
            "warranty_until": a.warranty_until.isoformat() if a.warranty_until else None,
            "contract": a.contract, "building": a.building, "device": a.device,
            "active": a.active}


def plan_json(p: MaintenancePlan, site: str) -> dict[str, Any]:
    return {"id": p.id, "site": site, "plan": p.definition, "active": p.active}


def visit_json(v: MaintenanceVisit) -> dict[str, Any]:
    return {"pm_key": v.pm_key, "work_order_id": v.work_order_id, "plan_id": v.plan_id,
            "tier": v.tier, "covers": list(v.covers or []),
            "due_date": v.due_date.isoformat()}


def _minutes(d: timedelta | None) -> float | None:
    return None if d is None else round(d.total_seconds() / 60, 1)


# --- assets -------------------------------------------------------------------------------------


@requires("workorders.read")
async def list_assets(request: web.Request) -> web.Response:
    """Assets by site and kind, in code order."""
    slug = text_param(request, "site", 63)
    kind = text_param(request, "kind", 32)
    query = scoped(select(AssetRecord, Site).join(Site, Site.id == AssetRecord.site_id),
                   AssetRecord.site_id, request)
    async with request.app[SESSIONS]() as session:
        if slug is not None:
            query = query.where(AssetRecord.site_id == (await site_by_slug(session, slug)).id)
        if kind is not None:
            query = query.where(AssetRecord.kind == kind)
        rows = (await session.execute(query.order_by(Site.slug, AssetRecord.code))).all()
    return json_ok({"assets": [asset_json(a, s.slug) for a, s in rows]})


@requires("workorders.admin")
async def create_asset(request: web.Request) -> web.Response:
    body = await json_object(request)
    unknown_fields(body, ASSET_FIELDS)
    slug = text_field(body, "site", 63)
    code = text_field(body, "code", 64)
    kind = text_field(body, "kind", 32)
    name = text_field(body, "name", 200)
    extra = {k: text_field(body, k, 100, required=False) for k in ("make", "model", "serial")}
    optional = {k: text_field(body, k, 100, required=False) for k in ("contract", "building")}
    device = text_field(body, "device", 128, required=False)
    install = _date_field(body, "install_date")
    warranty = _date_field(body, "warranty_until", required=False)
    active = _bool(body, "active")
    assert slug and code and kind and name and install
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                site = await site_by_slug(session, slug)
                ensure_visible(request, site.id, "site", "小区", "site", slug)
                asset = AssetRecord(
                    site_id=site.id, code=code, kind=kind, name=name,
                    **{k: v or "" for k, v in extra.items()}, **optional, device=device,
                    install_date=install, warranty_until=warranty, active=active,
                    created_at=now)
                session.add(asset)
        except IntegrityError:
            raise ApiError(409, "conflict", f"小区内设备编号已存在：{code}",
                           f"the site already has an asset coded {code}",
                           field="code") from None
        return json_ok(asset_json(asset, site.slug), status=201)


@requires("workorders.read")
async def get_asset(request: web.Request) -> web.Response:
    """One asset with its PM visits, its orders and the figures over ``[since, until)``."""
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", "设备", "asset", raw[:40])
    until = time_param(request, "until") or request.app[CLOCK].now()
    since = time_param(request, "since") or until - timedelta(days=STATS_DAYS)
    if since >= until:
        raise bad_param("since", "须早于 until", "must be before until")
    async with request.app[SESSIONS]() as session:
        row = (await session.execute(select(AssetRecord, Site).join(
            Site, Site.id == AssetRecord.site_id).where(AssetRecord.id == int(raw)))).first()
        if row is None:
            raise not_found("id", "设备", "asset", raw)
        asset, site = row
        ensure_visible(request, site.id, "id", "设备", "asset", raw)
        tzname = site.timezone or request.app[DEFAULT_TZ]
        report = await asset_report(session, asset, since, until, tzname)
    tz = zone(tzname, request.app[DEFAULT_TZ])
    return json_ok({
        **asset_json(asset, site.slug),
        "visits": [visit_json(v) for v in report.visits],
        "workorders": [order_json(o, site.slug, tz) for o in report.orders],
        "stats": {**times("since", since, tz), **times("until", until, tz),
                  "faults": report.faults, "mtbf_minutes": _minutes(report.mtbf),
                  "mttr_minutes": _minutes(report.mttr),
                  "sla_compliance_pct": None if report.sla_compliance is None
                  else str(report.sla_compliance)}})


# --- plans --------------------------------------------------------------------------------------


@requires("workorders.read")
async def list_plans(request: web.Request) -> web.Response:
    slug = text_param(request, "site", 63)
    query = scoped(select(MaintenancePlan, Site).join(Site, Site.id == MaintenancePlan.site_id),
                   MaintenancePlan.site_id, request)
    async with request.app[SESSIONS]() as session:
        if slug is not None:
            site = await site_by_slug(session, slug)
            query = query.where(MaintenancePlan.site_id == site.id)
        rows = (await session.execute(query.order_by(Site.slug, MaintenancePlan.plan_id))).all()
    return json_ok({"plans": [plan_json(p, s.slug) for p, s in rows]})


@requires("workorders.admin")
async def create_plan(request: web.Request) -> web.Response:
    """``{site, plan: {…the YAML shape…}, active?}``."""
    body = await json_object(request)
    unknown_fields(body, ("site", "plan", "active"))
    slug = text_field(body, "site", 63)
    active = _bool(body, "active")
    try:
        plan = plan_from_json(body.get("plan"))
    except PlanInvalid as err:
        field = "plan" if err.field == "plan" else f"plan.{err.field}"
        raise bad_param(field, err.zh, err.en) from None
    assert slug is not None
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                site = await site_by_slug(session, slug)
                ensure_visible(request, site.id, "site", "小区", "site", slug)
                row = MaintenancePlan(site_id=site.id, plan_id=plan.id,
                                      asset_kind=plan.asset_kind, definition=plan_to_json(plan),
                                      release_days_ahead=plan.release_days_ahead,
                                      start=plan.start, active=active, created_at=now)
                session.add(row)
        except IntegrityError:
            raise ApiError(409, "conflict", f"小区已有计划 {plan.id}",
                           f"the site already has plan {plan.id}", field="plan.id") from None
        return json_ok(plan_json(row, site.slug), status=201)


@requires("workorders.admin")
async def generate_now(request: web.Request) -> web.Response:
    """Run the PM generator for ``today`` (site calendar; default: today by the clock), for
    ``?site=`` or else every site the principal serves (never another community's). A date
    after tomorrow is refused: releasing visits early is the plan's ``release_days_ahead``,
    not a button."""
    raw = request.query.get("today")
    clock = request.app[CLOCK]
    today = site_today(clock, request.app[DEFAULT_TZ])
    if raw:
        parsed = _day({"today": raw}, "today", True)
        if parsed is None:
            raise bad_param("today", "须为日期 YYYY-MM-DD", "must be a date, YYYY-MM-DD")
        if parsed > today + timedelta(days=1):
            raise bad_param("today", f"不能晚于明天（{today + timedelta(days=1)}）",
                            f"must not be after tomorrow ({today + timedelta(days=1)})")
        today = parsed
    slug = text_param(request, "site", 63)
    async with request.app[SESSIONS]() as session, session.begin():
        site_ids = allowed_sites(request)
        if slug is not None:
            site = await site_by_slug(session, slug)
            ensure_visible(request, site.id, "site", "小区", "site", slug)
            site_ids = frozenset({site.id})
        created = await generate(session, today, clock.now(), site_ids)
    return json_ok({"today": today.isoformat(), "created": created})


def add_maintenance_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/assets", list_assets, name="assets")
    r.add_post("/api/assets", create_asset)
    r.add_get("/api/assets/{id}", get_asset, name="asset")
    r.add_get("/api/maintenance-plans", list_plans, name="maintenance_plans")
    r.add_post("/api/maintenance-plans", create_plan)
    r.add_post("/api/maintenance-plans/generate", generate_now)
