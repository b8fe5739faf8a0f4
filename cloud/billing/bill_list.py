"""The bills list and its export (``GET /api/bills``, ``/api/bills/export``): one filtered
select, paged by keyset (issue 16: one query per page, no ``count(*)``, no ``OFFSET``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy import select

from cloud.auth.audit import Actor, actor_of
from cloud.auth.guard import requires
from cloud.billing.tables import BILL_STATES, CYCLES, Bill
from cloud.db.models import Site
from cloud.records.tables import Building, Unit
from cloud.web.body import unstorable
from cloud.web.cursor import cursor_param, encode_cursor
from cloud.web.errors import bad_param
from cloud.web.keys import SESSIONS
from cloud.web.params import int_param, names_param
from cloud.web.params import text_param as _text_param
from cloud.web.present import utc_iso
from cloud.web.respond import json_ok
from cloud.web.tabular import CONTENT_TYPES, write_table

MAX_ID = 2**31 - 1
LIST_LIMIT = 100
MAX_LIMIT = 1000


def text_param(request: web.Request, name: str, max_len: int) -> str | None:
    value = _text_param(request, name, max_len)
    if value is not None and unstorable(value):
        raise bad_param(name, "含有无法保存的字符（NUL 或非 UTF-8）",
                        "contains characters that cannot be stored (NUL or not UTF-8)")
    return value


def site_filter(actor: Actor, column: Any) -> Any:
    return None if actor.sites is None else column.in_(sorted(actor.sites))


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def bill_json(b: Bill, slug: str, unit: str, building: str) -> dict[str, Any]:
    return {"id": b.id, "number": b.number, "site": slug, "unit": unit, "building": building,
            "run_id": b.run_id, "cycle": b.cycle, "period": b.period, "state": b.state,
            "total": money(b.total), "paid": money(b.paid),
            "due_date": b.due_date.isoformat(), "hold_reasons": b.hold_reasons,
            "void_reason": b.void_reason, "issued_at": utc_iso(b.issued_at),
            "created_at": utc_iso(b.created_at), "updated_at": utc_iso(b.updated_at)}


def bill_query(request: web.Request) -> Any:
    """The filtered bills select (site, unit, building, period, cycle, state)."""
    actor = actor_of(request)
    query = (select(Bill, Site.slug, Unit.code, Building.code)
             .join(Site, Site.id == Bill.site_id).join(Unit, Unit.id == Bill.unit_id)
             .join(Building, Building.id == Unit.building_id))
    site = text_param(request, "site", 63)
    if site is not None:
        query = query.where(Site.slug == site)
    unit = text_param(request, "unit", 64)
    if unit is not None:
        query = query.where(Unit.code == unit)
    building = text_param(request, "building", 32)
    if building is not None:
        query = query.where(Building.code == building)
    period = text_param(request, "period", 16)
    if period is not None:
        query = query.where(Bill.period == period)
    cycle = text_param(request, "cycle", 16)
    if cycle is not None:
        if cycle not in CYCLES:
            raise bad_param("cycle", f"周期须为 {', '.join(CYCLES)}",
                            f"cycle must be one of {', '.join(CYCLES)}")
        query = query.where(Bill.cycle == cycle)
    states = names_param(request, "state", 16)  # checked against BILL_STATES below
    for s in states:
        if s not in BILL_STATES:
            raise bad_param("state", f"未知状态 {s!r}，可选：{', '.join(BILL_STATES)}",
                            f"unknown state {s!r}; one of {', '.join(BILL_STATES)}")
    if states:
        query = query.where(Bill.state.in_(states))
    run = int_param(request, "run", 0, 0, MAX_ID)
    if run:
        query = query.where(Bill.run_id == run)
    cond = site_filter(actor, Bill.site_id)
    if cond is not None:
        query = query.where(cond)
    return query


@requires("billing.read")
async def list_bills(request: web.Request) -> web.Response:
    """Bills by site, unit, building, period, cycle, state and run; paged by keyset: one
    query per page, no ``count(*)`` (``order=desc``: newest first)."""
    query = bill_query(request)
    limit = int_param(request, "limit", LIST_LIMIT, 1, MAX_LIMIT)
    newest = text_param(request, "order", 4) == "desc"
    after = cursor_param(request, (int,))
    if after is not None:
        query = query.where(Bill.id < after[0] if newest else Bill.id > after[0])
    async with request.app[SESSIONS]() as session:
        rows = (await session.execute(query.order_by(Bill.id.desc() if newest else Bill.id)
                                      .limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return json_ok({"bills": [bill_json(*r) for r in rows],
                    "next": encode_cursor([rows[-1][0].id]) if more else None})


EXPORT_HEADERS = ("账单号 / number", "小区 / site", "楼栋 / building", "房屋 / unit",
                  "周期 / cycle", "账期 / period", "状态 / state", "合计 / total",
                  "已收 / paid", "到期日 / due date", "出账时间 / issued at")


@requires("billing.read")
async def export_bills(request: web.Request) -> web.Response:
    """The filtered bills as CSV or xlsx (``?format=``)."""
    fmt = request.query.get("format", "csv")
    if fmt not in CONTENT_TYPES:
        raise bad_param("format", "格式须为 csv 或 xlsx", "format must be csv or xlsx")
    query = bill_query(request)
    async with request.app[SESSIONS]() as session:
        rows = (await session.execute(query.order_by(Bill.id).limit(200_000))).all()
    table = [(b.number, slug, bcode, ucode, b.cycle, b.period, b.state, b.total, b.paid,
              b.due_date, utc_iso(b.issued_at)) for b, slug, ucode, bcode in rows]
    data = await asyncio.to_thread(write_table, EXPORT_HEADERS, table, fmt, "bills")  # type: ignore[arg-type]
    return web.Response(body=data, headers={
        "Content-Type": CONTENT_TYPES[fmt],
        "Content-Disposition": f'attachment; filename="bills.{fmt}"'})
