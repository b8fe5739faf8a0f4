"""Checkpoints, routes and plans under ``/api/sites/{site}/patrol/``: ``GET`` (patrol.read),
``POST`` to create and ``PATCH …/{code}`` to change some fields (patrol.write).

A PATCH is checked as the whole entry it leaves behind, so a change can never leave a route
naming a retired checkpoint or a plan tolerating a checkpoint its route lacks. Nothing is
deleted: ``active: false`` takes an entry out of the edge's dataset. Each write bumps the
``patrol`` version with its audit row (``cloud.patrol.write``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, cast

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import actor_of, record, snapshot
from cloud.auth.guard import requires
from cloud.db.models import Site
from cloud.parking.dataset import current_version
from cloud.patrol import service as svc
from cloud.patrol import validate as v
from cloud.patrol.tables import PATROL_DATASET, PatrolCheckpoint, PatrolPlan, PatrolRoute
from cloud.patrol.write import PREFIX, api_error, versioned_write
from cloud.web.body import json_object
from cloud.web.keys import SESSIONS
from cloud.web.present import site_zone, times
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok

CHECKPOINT_FIELDS = ("code", "name", "building", "floor", "area", "receiver", "qr", "active")
ROUTE_FIELDS = ("code", "name", "ordered", "points", "active")
PLAN_FIELDS = ("code", "name", "route", "days", "start", "end", "every_s", "start_window_s",
               "tolerance_s", "late_s", "tolerances", "escalate_s", "active")
PLAN_DEFAULTS: dict[str, Any] = {"days": [1, 2, 3, 4, 5, 6, 7], "every_s": 0,
                                 "start_window_s": 600, "tolerance_s": 120, "late_s": 300,
                                 "tolerances": {}, "escalate_s": 600, "active": True}
Row = PatrolCheckpoint | PatrolRoute | PatrolPlan
Apply = Callable[[AsyncSession, Site, dict[str, Any]], Awaitable[dict[str, Any]]]


# --- what each kind is as JSON, and how a whole entry is checked ------------------------------

def checkpoint_json(c: PatrolCheckpoint) -> dict[str, Any]:
    return {"code": c.code, "name": c.name, "building": c.building, "floor": c.floor,
            "area": c.area, "receiver": c.receiver, "qr": c.qr, "sticker_n": c.sticker_n,
            "active": c.active}


def route_json(r: PatrolRoute) -> dict[str, Any]:
    return {"code": r.code, **svc.route_entry(r), "active": r.active}


def plan_json(p: PatrolPlan) -> dict[str, Any]:
    return {"code": p.code, **svc.plan_entry(p), "active": p.active}


async def _checkpoint(session: AsyncSession, site: Site, e: dict[str, Any]) -> dict[str, Any]:
    receiver = e.get("receiver")
    out = {"name": v.text(e, "name", 64, required=True),
           "building": v.text(e, "building", 64), "floor": v.text(e, "floor", 32),
           "area": v.text(e, "area", 64),
           "receiver": None if receiver in (None, "") else v.key(receiver, "receiver"),
           "qr": v.flag(e, "qr", False), "active": v.flag(e, "active", True)}
    if out["receiver"] is None and not out["qr"]:
        raise v.Invalid("receiver", "须指定接收器，或设为二维码巡更点（qr: true）",
                        "name a receiver, or make it a QR checkpoint (qr: true)")
    if out["receiver"] is not None and out["active"]:
        # The edge maps a receiver to one checkpoint: a second would never be visited.
        other = (await session.scalars(select(PatrolCheckpoint.code).where(
            PatrolCheckpoint.site_id == site.id, PatrolCheckpoint.active.is_(True),
            PatrolCheckpoint.receiver == out["receiver"],
            PatrolCheckpoint.code != e["code"]))).first()
        if other is not None:
            raise v.Invalid("receiver", f"接收器 {out['receiver']} 已用于巡更点 {other}",
                            f"receiver {out['receiver']} already serves checkpoint {other}",
                            status=409, code="conflict")
    if not out["active"]:
        used = await svc.route_in_use(session, site.id, e["code"])
        if used is not None:
            raise v.Invalid("active", f"路线 {used} 仍使用该巡更点，须先从路线中移除",
                            f"route {used} still uses it: take it off the route first",
                            status=409, code="conflict")
    return out


async def _route(session: AsyncSession, site: Site, e: dict[str, Any]) -> dict[str, Any]:
    ordered = v.flag(e, "ordered", True)
    out: dict[str, Any] = {"name": v.text(e, "name", 64, required=True), "ordered": ordered,
           "points": v.points(e.get("points"), ordered), "active": v.flag(e, "active", True)}
    if out["active"]:
        await svc.active_checkpoints(session, site.id, [p["checkpoint"] for p in out["points"]])
    return out


async def _plan(session: AsyncSession, site: Site, e: dict[str, Any]) -> dict[str, Any]:
    e = {**PLAN_DEFAULTS, **{k: x for k, x in e.items() if x is not None}}
    route_code = v.key(e.get("route"), "route")
    route = await svc.by_code(session, PatrolRoute, site.id, route_code)
    if route is None:
        raise v.Invalid("route", f"没有路线 {route_code}", f"no route {route_code}")
    return {"name": v.text(e, "name", 64, required=True), "route": route_code,
            "days": v.days(e.get("days")),
            "start_time": v.time_of_day(e.get("start"), "start"),
            "end_time": v.time_of_day(e.get("end"), "end"),
            "every_s": v.seconds(e.get("every_s"), "every_s", 86400),
            "start_window_s": v.seconds(e.get("start_window_s"), "start_window_s"),
            "tolerance_s": v.seconds(e.get("tolerance_s"), "tolerance_s"),
            "late_s": v.seconds(e.get("late_s"), "late_s"),
            "tolerances": v.tolerances(e.get("tolerances"),
                                       [p["checkpoint"] for p in route.points]),
            "escalate_s": v.seconds(e.get("escalate_s"), "escalate_s"),
            "active": v.flag(e, "active", True)}


class Kind:
    """One edited kind: its table, fields, JSON, whole-entry check and audit name."""

    def __init__(self, table: type[Row], entity: str, zh: str, fields: tuple[str, ...],
                 to_json: Callable[[Any], dict[str, Any]], check: Apply) -> None:
        self.table, self.entity, self.zh, self.fields = table, entity, zh, fields
        self.to_json, self.check = to_json, check

    def body_of(self, row: Row) -> dict[str, Any]:
        """The row as the body that would create it (a PATCH applies on top of it)."""
        return {k: x for k, x in self.to_json(row).items() if k in self.fields}


CHECKPOINTS = Kind(PatrolCheckpoint, "patrol_checkpoint", "巡更点", CHECKPOINT_FIELDS,
                   checkpoint_json, _checkpoint)
ROUTES = Kind(PatrolRoute, "patrol_route", "路线", ROUTE_FIELDS, route_json, _route)
PLANS = Kind(PatrolPlan, "patrol_plan", "巡更计划", PLAN_FIELDS, plan_json, _plan)


# --- the handlers, one set per kind -----------------------------------------------------------

def _list(kind: Kind, name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    @requires("patrol.read")
    async def handler(request: web.Request) -> web.Response:
        async with request.app[SESSIONS]() as session, session.begin():
            site = await site_by_slug(session, request.match_info["site"])
            rows = cast(list[Row], list((await session.scalars(select(kind.table).where(
                kind.table.site_id == site.id).order_by(kind.table.code))).all()))
            version = await current_version(session, site.id, PATROL_DATASET)
        tz = site_zone(request, site.timezone)
        return json_ok({"site": site.slug, "version": version,
                        name: [{**kind.to_json(r), **times("updated_at", r.updated_at, tz)}
                               for r in rows]})
    return handler


def _write(kind: Kind, create: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
    @requires("patrol.write")
    async def handler(request: web.Request) -> web.Response:
        body = await json_object(request, allowed=kind.fields)
        try:
            code = v.key(body.get("code") if create else request.match_info["code"])
            if not create and "code" in body and body["code"] != code:
                raise v.Invalid("code", "代码不能修改", "the code cannot change")
        except v.Invalid as err:
            raise api_error(err) from None

        async def op(session: AsyncSession, site: Site, now: datetime) -> Row:
            found: Row | None = await svc.by_code(
                session, kind.table, site.id, code)  # type: ignore[type-var]
            if create and found is not None:
                raise v.Invalid("code", f"{kind.zh} {code} 已存在", f"{code} already exists",
                                status=409, code="conflict")
            if not create and found is None:
                raise v.Invalid("code", f"没有{kind.zh} {code}", f"no such {kind.entity}: {code}",
                                status=404, code="not_found")
            merged = {**(kind.body_of(found) if found is not None else {}), **body, "code": code}
            values = await kind.check(session, site, merged)
            before = None if found is None else snapshot(found, values)
            if found is None:
                found = kind.table(site_id=site.id, code=code, updated_at=now, **values)
                session.add(found)
                await session.flush()
            else:
                for attr, value in values.items():
                    setattr(found, attr, value)
                found.updated_at = now
            record(session, at=now, actor=actor_of(request),
                   action="create" if before is None else "update", entity=kind.entity,
                   entity_id=code, site_id=site.id, before=before, after=values)
            return found

        row, version = await versioned_write(request, op)
        return json_ok({**kind.to_json(row), "version": version}, status=201 if create else 200)
    return handler


def add_setup_routes(app: web.Application) -> None:
    r = app.router
    for kind, name in ((CHECKPOINTS, "checkpoints"), (ROUTES, "routes"), (PLANS, "plans")):
        r.add_get(f"{PREFIX}/{name}", _list(kind, name), name=f"patrol_{name}")
        r.add_post(f"{PREFIX}/{name}", _write(kind, create=True))
        r.add_patch(f"{PREFIX}/{name}/{{code}}", _write(kind, create=False),
                    name=f"patrol_{name}_one")
