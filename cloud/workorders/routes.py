"""Work orders and technicians under ``/api/workorders`` and ``/api/technicians``.

Staff and owners file repair requests (``POST /api/workorders``, a ``request_id`` makes a
resubmitted form a 409, not a second order); technicians and supervisors act with
``POST /api/workorders/{id}/{action}``, the actions of ``cloud.workorders.states``. A refused
transition is a 409 naming the current state and the actions allowed from it.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import actor_of, record
from cloud.auth.guard import requires
from cloud.auth.scope import allowed_sites, ensure_visible, scoped
from cloud.db.dialect import json_list_has
from cloud.db.models import Site
from cloud.records.tables import Unit
from cloud.web.body import json_object, text_field, unknown_fields
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS
from cloud.web.params import int_param, names_param, text_param
from cloud.web.present import zone
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok
from cloud.workorders.acting import NotPermitted, acting_as, refuse_actor_fields
from cloud.workorders.categories import CATEGORIES, REQUEST_SLA_S
from cloud.workorders.present import (
    action_json,
    cost_total,
    line_json,
    order_json,
    technician_json,
)
from cloud.workorders.service import (
    DuplicateRequest,
    FoldConflict,
    InvalidField,
    OrderNotFound,
    Source,
    TransitionRefused,
    act,
    auto_assign,
    open_or_fold,
)
from cloud.workorders.states import (
    LIFECYCLE,
    OPEN_STATES,
    PRIORITIES,
    STATES,
    TRANSITIONS,
)
from cloud.workorders.tables import (
    Technician,
    TechnicianShift,
    WorkOrder,
    WorkOrderAction,
    WorkOrderLine,
)

LIST_DEFAULT_LIMIT = 100
LIST_MAX_LIMIT = 1000
MAX_ID = 2**31 - 1
MAX_NOTE = 2000
#: Fields an action body may carry besides ``note``.
ACTION_FIELDS = ("assignee_ids", "technician_id", "rating", "hours", "rate", "part", "qty",
                 "unit_price")


# --- helpers ------------------------------------------------------------------------------------






def _order_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", "工单", "work order", raw[:40])
    return int(raw)


def _tz(request: web.Request, site: Site) -> Any:
    default = request.app[DEFAULT_TZ]
    return zone(site.timezone or default, default)


# --- work orders --------------------------------------------------------------------------------


@requires("workorders.read")
async def list_workorders(request: web.Request) -> web.Response:
    """Orders newest first, by state, site, unit, assignee (technician id) and
    ``overdue=1``."""
    states = names_param(request, "state", 16)
    for s in states:
        if s not in STATES:
            raise bad_param("state", f"未知状态 {s!r}，可选：{', '.join(STATES)}",
                            f"unknown state {s!r}; one of {', '.join(STATES)}")
    site = text_param(request, "site", 63)
    assignee = int_param(request, "assignee", 0, 1, MAX_ID)
    overdue = int_param(request, "overdue", 0, 0, 1)
    unit = text_param(request, "unit", 64)
    limit = int_param(request, "limit", LIST_DEFAULT_LIMIT, 1, LIST_MAX_LIMIT)
    now = request.app[CLOCK].now()
    query = scoped(select(WorkOrder, Site).join(Site, Site.id == WorkOrder.site_id),
                   WorkOrder.site_id, request)
    if site is not None:
        query = query.where(Site.slug == site)
    if states:
        query = query.where(WorkOrder.state.in_(states))
    if unit is not None:
        query = query.where(WorkOrder.unit == unit)
    if overdue:
        query = query.where(WorkOrder.state.in_(OPEN_STATES), or_(
            and_(WorkOrder.responded_at.is_(None), WorkOrder.response_due <= now),
            and_(WorkOrder.resolved_at.is_(None), WorkOrder.resolve_due <= now)))
    query = query.order_by(WorkOrder.opened_at.desc(), WorkOrder.id.desc()).limit(limit)
    async with request.app[SESSIONS]() as session:
        if assignee:
            query = query.where(json_list_has(session, WorkOrder.assignee_ids, assignee))
        rows = (await session.execute(query)).all()
    return json_ok({"workorders": [order_json(o, s.slug, _tz(request, s)) for o, s in rows]})


async def _detail(session: AsyncSession, request: web.Request, order_id: int) -> dict[str, Any]:
    row = (await session.execute(select(WorkOrder, Site).join(
        Site, Site.id == WorkOrder.site_id).where(WorkOrder.id == order_id))).first()
    if row is None:
        raise not_found("id", "工单", "work order", str(order_id))
    order, site = row
    ensure_visible(request, site.id, "id", "工单", "work order", order_id)
    tz = _tz(request, site)
    steps = (await session.execute(select(WorkOrderAction).where(
        WorkOrderAction.order_id == order_id).order_by(WorkOrderAction.id))).scalars().all()
    lines = list((await session.execute(select(WorkOrderLine).where(
        WorkOrderLine.order_id == order_id).order_by(WorkOrderLine.id))).scalars().all())
    return {**order_json(order, site.slug, tz),
            "history": [action_json(a, tz) for a in steps],
            "lines": [line_json(line) for line in lines], "cost_total": cost_total(lines),
            "allowed": LIFECYCLE.allowed_from(order.state)}


@requires("workorders.read")
async def get_workorder(request: web.Request) -> web.Response:
    """One order with its history, labour and parts, and cost total."""
    order_id = _order_id(request)
    async with request.app[SESSIONS]() as session:
        return json_ok(await _detail(session, request, order_id))


CREATE_FIELDS = ("site", "category", "title", "description", "priority", "request_id",
                 "requested_by", "unit")


@requires("workorders.act")
async def create_workorder(request: web.Request) -> web.Response:
    """A repair request from staff or an owner; dispatched at once when someone qualified
    is on duty, otherwise left in the pool. ``requested_by`` defaults to the staff member."""
    body = await json_object(request)
    unknown_fields(body, CREATE_FIELDS)
    slug = text_field(body, "site", 63)
    category = text_field(body, "category", 64)
    if category not in CATEGORIES:
        raise bad_param("category", f"未知类别，可选：{', '.join(CATEGORIES)}",
                        f"unknown category; one of {', '.join(CATEGORIES)}")
    title = text_field(body, "title", 200)
    description = text_field(body, "description", MAX_NOTE, required=False) or ""
    priority = body.get("priority", "normal")
    if priority not in PRIORITIES:
        raise bad_param("priority", f"优先级须为 {', '.join(PRIORITIES)}",
                        f"priority must be one of {', '.join(PRIORITIES)}")
    request_id = text_field(body, "request_id", 64, required=False) or uuid.uuid4().hex
    unit = text_field(body, "unit", 64, required=False)
    requested_by = (text_field(body, "requested_by", 64, required=False)
                    or actor_of(request).name[:64])
    now = request.app[CLOCK].now()
    response_s, resolve_s = REQUEST_SLA_S[priority]
    assert slug is not None and category is not None and title is not None
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                site = await site_by_slug(session, slug)
                ensure_visible(request, site.id, "site", "小区", "site", slug)
                if unit is not None and (await session.scalars(select(Unit.id).where(
                        Unit.site_id == site.id, Unit.code == unit))).first() is None:
                    raise bad_param("unit", f"本小区没有房屋 {unit}",
                                    f"no unit {unit} in this site")
                order, _ = await open_or_fold(
                    session, site_id=site.id, fold_key=f"request:{request_id}",
                    category=category, priority=priority, sla_response_s=response_s,
                    sla_resolve_s=resolve_s, skill=CATEGORIES[category].skill,
                    title=(title, title), cause_ts=now, description=description,
                    source=Source("request", request_id=request_id,
                                  requested_by=requested_by), now=now)
                order.unit = unit
                await auto_assign(session, order, now)
                order_id = order.id
                record(session, at=now, actor=actor_of(request), action="create",
                       entity="work_order", entity_id=order_id, site_id=site.id,
                       after={"category": category, "title": title, "priority": priority,
                              "requested_by": requested_by, "unit": unit})
        except DuplicateRequest as dup:
            raise ApiError(409, "duplicate_request", f"该报修已提交（工单 {dup.order_id}）",
                           f"this request was already filed (work order {dup.order_id})",
                           field="request_id", state=dup.state, id=dup.order_id) from None
        except IntegrityError:
            raise ApiError(409, "duplicate_request", "该报修已提交",
                           "this request was already filed", field="request_id") from None
        return json_ok(await _detail(session, request, order_id), status=201)


@requires("workorders.act")
async def workorder_action(request: web.Request) -> web.Response:
    """``POST /api/workorders/{id}/{action}`` with ``{note?, …fields}``. Who acts, and in
    which role, is the logged-in principal (``cloud.workorders.acting``); a body naming
    someone (``by``) or a role (``role``) is refused."""
    order_id = _order_id(request)
    action = request.match_info["action"].replace("-", "_")
    if action not in TRANSITIONS:
        raise not_found("action", "操作", "action", action[:40])
    body = await json_object(request)
    spoof = refuse_actor_fields(body)
    if spoof is not None:
        raise bad_param(spoof, "操作人与角色由登录身份决定，请勿在请求中填写",
                        "who acts and in which role come from your login; do not send it")
    unknown_fields(body, ("note", *ACTION_FIELDS))
    note = text_field(body, "note", MAX_NOTE, required=False)
    fields = {k: body[k] for k in ACTION_FIELDS if k in body}
    actor = actor_of(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                order = await session.get(WorkOrder, order_id)
                if order is None:
                    raise OrderNotFound(order_id)
                site_id = order.site_id
                ensure_visible(request, site_id, "id", "工单", "work order", order_id)
                acting = await acting_as(session, actor, order, action, fields)
                await act(session, order_id, action, acting.by, note, now, role=acting.role,
                          **acting.fields)
                record(session, at=now, actor=actor, action=action,
                       entity="work_order", entity_id=order_id, site_id=site_id,
                       detail={"role": acting.role, "note": note, **acting.fields})
        except OrderNotFound:
            raise not_found("id", "工单", "work order", str(order_id)) from None
        except NotPermitted as err:
            raise ApiError(403, "forbidden", err.zh, err.en, field=err.field) from None
        except TransitionRefused as err:
            raise ApiError(409, "invalid_transition", err.zh, err.en, field="state",
                           state=err.state, allowed=err.allowed) from None
        except InvalidField as err:
            raise bad_param(err.field, err.zh, err.en) from None
        except FoldConflict as err:
            raise ApiError(409, "already_open", f"同一故障已有未关闭的工单 {err.other_id}",
                           f"work order {err.other_id} is already open for this fault",
                           field="state", other_id=err.other_id) from None
        return json_ok(await _detail(session, request, order_id))


# --- technicians --------------------------------------------------------------------------------


async def _site_names(session: AsyncSession) -> dict[int, str]:
    return {i: s for i, s in (await session.execute(select(Site.id, Site.slug))).all()}


@requires("workorders.read")
async def list_technicians(request: web.Request) -> web.Response:
    """Technicians serving at least one of the principal's sites (names and phones are
    personal data: another community's staff are not listed)."""
    mine = allowed_sites(request)
    async with request.app[SESSIONS]() as session:
        techs = [t for t in (await session.execute(select(Technician).order_by(Technician.id))
                             ).scalars().all()
                 if mine is None or set(t.site_ids or []) & mine]
        shifts = (await session.execute(select(TechnicianShift).order_by(
            TechnicianShift.weekday, TechnicianShift.start_min))).scalars().all()
        sites = {i: s for i, s in (await _site_names(session)).items()
                 if mine is None or i in mine}
    return json_ok({"technicians": [
        technician_json(t, [s for s in shifts if s.technician_id == t.id], sites)
        for t in techs]})


def _minute(value: Any, field: str) -> int:
    if isinstance(value, str) and len(value) == 5 and value[2] == ":":
        hh, mm = value[:2], value[3:]
        if hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60:
            return int(hh) * 60 + int(mm)
    raise bad_param(field, "时间须为 HH:MM（小区当地时间）", "time must be HH:MM (site time)")


def _shifts(value: Any) -> list[tuple[int, int, int]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_param("shifts", "须为列表", "must be a list")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"weekday", "start", "end"}:
            raise bad_param(f"shifts[{i}]", "须为 {weekday, start, end}",
                            "must be {weekday, start, end}")
        day = item["weekday"]
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            raise bad_param(f"shifts[{i}].weekday", "须为 0（周一）到 6（周日）",
                            "must be 0 (Monday) to 6 (Sunday)")
        out.append((day, _minute(item["start"], f"shifts[{i}].start"),
                    _minute(item["end"], f"shifts[{i}].end")))
    return out


def _names(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(
            isinstance(v, str) and 0 < len(v) <= 63 for v in value):
        raise bad_param(name, "须为文本列表", "must be a list of strings")
    return list(value)


@requires("workorders.admin")
async def create_technician(request: web.Request) -> web.Response:
    """``{name, phone?, skills, sites, on_duty?, shifts?: [{weekday, start, end}]}``."""
    body = await json_object(request)
    unknown_fields(body, ("name", "phone", "skills", "sites", "on_duty", "shifts"))
    name = text_field(body, "name", 64)
    phone = text_field(body, "phone", 32, required=False) or ""
    skills = _names(body, "skills")
    slugs = _names(body, "sites")
    on_duty = body.get("on_duty", False)
    if not isinstance(on_duty, bool):
        raise bad_param("on_duty", "须为 true 或 false", "must be true or false")
    shifts = _shifts(body.get("shifts"))
    assert name is not None
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                site_ids = [(await site_by_slug(session, s)).id for s in slugs]
                for s, i in zip(slugs, site_ids, strict=True):
                    ensure_visible(request, i, "sites", "小区", "site", s)
                tech = Technician(name=name, phone=phone, skills=skills, site_ids=site_ids,
                                  on_duty=on_duty)
                session.add(tech)
                await session.flush()
                rows = [TechnicianShift(technician_id=tech.id, weekday=d, start_min=a,
                                        end_min=b) for d, a, b in shifts]
                session.add_all(rows)
        except IntegrityError:
            raise ApiError(409, "conflict", f"技工已存在：{name}",
                           f"a technician with this name exists: {name}",
                           field="name") from None
        sites = await _site_names(session)
        return json_ok(technician_json(tech, rows, sites), status=201)


def add_workorder_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/workorders", list_workorders, name="workorders")
    r.add_post("/api/workorders", create_workorder)
    r.add_get("/api/workorders/{id}", get_workorder, name="workorder")
    r.add_post("/api/workorders/{id}/{action}", workorder_action)
    r.add_get("/api/technicians", list_technicians, name="technicians")
    r.add_post("/api/technicians", create_technician)
