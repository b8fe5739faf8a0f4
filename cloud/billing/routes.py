# Over 500 lines on purpose: fee items, bill runs and bills share one lifecycle.
"""Billing under ``/api/fee-items``, ``/api/bill-runs`` and ``/api/bills``.

A bill run is started (or resumed) by ``POST /api/bill-runs`` and works in the background:
the reply is 202 with the run, ``GET /api/bill-runs/{id}`` shows its progress. The run is a
job (``cloud.jobs``) any console claims: given back on shutdown, taken over when the console
running it dies, and resumed by posting the same period again; a period whose run is done is
a 409 naming it. Bills are read, exported, voided, adjusted (红冲) and
released after review here; nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, actor_of, jsonable
from cloud.auth.guard import requires
from cloud.billing.bill_list import (
    LIST_LIMIT,
    MAX_ID,
    MAX_LIMIT,
    bill_json,
    export_bills,
    list_bills,
    text_param,
)
from cloud.billing.bill_list import money as _money
from cloud.billing.bill_list import site_filter as _site_filter
from cloud.billing.bills import BillRefused, adjust_bill, release_bill, void_bill
from cloud.billing.fee_items import FeeItemError, FeeItemInput, parse_fee_item
from cloud.billing.fee_store import FEE_FIELDS, save_fee_item
from cloud.billing.money import parse_decimal
from cloud.billing.runs import RunRefused, open_run
from cloud.billing.settle import SETTLE
from cloud.billing.tables import CYCLES, Bill, BillLine, BillRun, FeeItem
from cloud.db.models import Site
from cloud.jobs.claim import enqueue
from cloud.jobs.runner import JOB_RUNNER
from cloud.records.tables import Building, Unit
from cloud.web.body import json_object, text_field, unknown_fields
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.params import int_param
from cloud.web.present import utc_iso
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok

log = structlog.get_logger(__name__)

MAX_TEXT = 500


# --- background runs ----------------------------------------------------------------------------


async def _run_job(session: AsyncSession, run: BillRun, actor: Actor, now: datetime) -> int:
    """The run's job (``cloud.jobs``), queued anew when a finished or failed one exists: any
    console claims it, and a console that dies mid-run leaves it to another."""
    who = {"ref": actor.ref, "name": actor.name, "role": actor.role}
    return await enqueue(session, kind="bill_run", key=f"run:{run.id}", site_id=run.site_id,
                         payload={"run_id": run.id, "actor": who}, now=now, again=True)


async def _queue_unfinished(app: web.Application) -> AsyncIterator[None]:
    """Runs left ``running`` by a console of before the jobs table get their job."""
    try:
        async with app[SESSIONS]() as session, session.begin():
            runs = (await session.execute(select(BillRun).where(
                BillRun.state == "running"))).scalars().all()
            for run in runs:
                await enqueue(session, kind="bill_run", key=f"run:{run.id}",
                              site_id=run.site_id, payload={"run_id": run.id},
                              now=app[CLOCK].now())
    except Exception:  # a console without the billing tables still starts
        log.exception("bill_run.resume_failed")
    yield


# --- helpers ------------------------------------------------------------------------------------






def _id(request: web.Request, what_zh: str, what_en: str) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", what_zh, what_en, raw[:40])
    return int(raw)


def _visible(actor: Actor, site_id: int, what_zh: str, what_en: str, ident: int) -> None:
    if not actor.may_see(site_id):
        raise not_found("id", what_zh, what_en, str(ident))


async def _site(session: AsyncSession, request: web.Request, slug: str) -> Site:
    site = await site_by_slug(session, slug)
    if not actor_of(request).may_see(site.id):
        raise not_found("site", "小区", "site", slug)
    return site


# --- fee items ----------------------------------------------------------------------------------


def fee_json(f: FeeItem, slug: str) -> dict[str, Any]:
    return {"id": f.id, "site": slug, "code": f.code, "name": f.name, "kind": f.kind,
            "cycle": f.cycle, "rule": f.rule, "late_fee": f.late_fee, "due_days": f.due_days,
            "active": f.active, "created_at": utc_iso(f.created_at),
            "updated_at": utc_iso(f.updated_at)}


def _fee_input(body: dict[str, Any], base: FeeItemInput | None = None) -> FeeItemInput:
    try:
        return parse_fee_item(body, base)
    except FeeItemError as err:
        raise bad_param(err.field, err.zh, err.en) from None


@requires("billing.read")
async def list_fee_items(request: web.Request) -> web.Response:
    """A site's fee items (or every visible site's)."""
    slug = text_param(request, "site", 63)
    actor = actor_of(request)
    query = select(FeeItem, Site.slug).join(Site, Site.id == FeeItem.site_id)
    async with request.app[SESSIONS]() as session:
        if slug is not None:
            site = await _site(session, request, slug)
            query = query.where(FeeItem.site_id == site.id)
        cond = _site_filter(actor, FeeItem.site_id)
        if cond is not None:
            query = query.where(cond)
        rows = (await session.execute(query.order_by(Site.slug, FeeItem.code))).all()
    return json_ok({"fee_items": [fee_json(f, s) for f, s in rows]})


@requires("billing.write")
async def create_fee_item(request: web.Request) -> web.Response:
    body = await json_object(request)
    slug = text_field(body, "site", 63)
    assert slug is not None
    data = _fee_input({k: v for k, v in body.items() if k != "site"})
    now = request.app[CLOCK].now()
    actor = actor_of(request)
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                site = await _site(session, request, slug)
                exists = (await session.execute(select(FeeItem.id).where(
                    FeeItem.site_id == site.id, FeeItem.code == data.code))).first()
                if exists is not None:
                    raise ApiError(409, "duplicate", f"收费项目代码 {data.code} 已存在",
                                   f"fee item code {data.code} already exists", field="code")
                row, _ = await save_fee_item(session, site, data, actor, now)
        except IntegrityError:
            raise ApiError(409, "duplicate", f"收费项目代码 {data.code} 已存在",
                           f"fee item code {data.code} already exists", field="code") from None
        return json_ok(fee_json(row, site.slug), status=201)


async def _fee_row(session: AsyncSession, request: web.Request) -> tuple[FeeItem, Site]:
    fid = _id(request, "收费项目", "fee item")
    row = (await session.execute(select(FeeItem, Site).join(Site, Site.id == FeeItem.site_id)
                                 .where(FeeItem.id == fid))).first()
    if row is None:
        raise not_found("id", "收费项目", "fee item", str(fid))
    _visible(actor_of(request), row[0].site_id, "收费项目", "fee item", fid)
    return row[0], row[1]


@requires("billing.read")
async def get_fee_item(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        row, site = await _fee_row(session, request)
        return json_ok(fee_json(row, site.slug))


@requires("billing.write")
async def update_fee_item(request: web.Request) -> web.Response:
    """Change some fields; the merged item is validated as a whole. The code is fixed."""
    body = await json_object(request)
    unknown_fields(body, tuple(f for f in FEE_FIELDS if f != "code"))
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        row, site = await _fee_row(session, request)
        base = FeeItemInput(row.code, row.name, row.kind, row.cycle, row.rule, row.late_fee,
                            row.due_days, row.active)
        data = _fee_input(body, base)
        await save_fee_item(session, site, data, actor_of(request), now)
        return json_ok(fee_json(row, site.slug))


# --- bill runs ----------------------------------------------------------------------------------


def run_json(r: BillRun, slug: str) -> dict[str, Any]:
    return {"id": r.id, "site": slug, "cycle": r.cycle, "period": r.period,
            "period_start": r.period_start.isoformat(), "period_end": r.period_end.isoformat(),
            "state": r.state, "units_total": r.units_total, "units_done": r.units_done,
            "bills": r.bills, "held": r.held, "total": _money(r.total), "error": r.error,
            "started_by": r.started_by, "started_at": utc_iso(r.started_at),
            "finished_at": utc_iso(r.finished_at)}


@requires("billing.write")
async def start_bill_run(request: web.Request) -> web.Response:
    """Start or resume the run of {site, cycle, period}: 202 with the run."""
    body = await json_object(request)
    unknown_fields(body, ("site", "cycle", "period"))
    slug = text_field(body, "site", 63)
    cycle = body.get("cycle", "monthly")
    if cycle not in CYCLES:
        raise bad_param("cycle", f"周期须为 {', '.join(CYCLES)}",
                        f"cycle must be one of {', '.join(CYCLES)}")
    period = text_field(body, "period", 16)
    assert slug is not None and period is not None
    actor = actor_of(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                site = await _site(session, request, slug)
                run, _ = await open_run(session, site=site, cycle=cycle, period=period,
                                        actor=actor, now=now)
                await _run_job(session, run, actor, now)
        except RunRefused as err:
            raise ApiError(err.status, err.code, err.zh, err.en, field=err.field) from None
        except IntegrityError:  # another request created it at the same moment
            raise ApiError(409, "run_starting", "该账期正在出账，请稍后查看进度",
                           "this period's run is being started; check its progress",
                           field="period") from None
        out = run_json(run, site.slug)
    runner = request.app.get(JOB_RUNNER)
    if runner is not None:
        runner.wake()  # this console looks at once; the others at their next poll
    return json_ok(out, status=202)


@requires("billing.read")
async def list_bill_runs(request: web.Request) -> web.Response:
    slug = text_param(request, "site", 63)
    limit = int_param(request, "limit", LIST_LIMIT, 1, MAX_LIMIT)
    query = select(BillRun, Site.slug).join(Site, Site.id == BillRun.site_id)
    async with request.app[SESSIONS]() as session:
        if slug is not None:
            site = await _site(session, request, slug)
            query = query.where(BillRun.site_id == site.id)
        cond = _site_filter(actor_of(request), BillRun.site_id)
        if cond is not None:
            query = query.where(cond)
        rows = (await session.execute(query.order_by(BillRun.id.desc()).limit(limit))).all()
    return json_ok({"bill_runs": [run_json(r, s) for r, s in rows]})


@requires("billing.read")
async def get_bill_run(request: web.Request) -> web.Response:
    rid = _id(request, "出账批次", "bill run")
    async with request.app[SESSIONS]() as session:
        row = (await session.execute(select(BillRun, Site.slug).join(
            Site, Site.id == BillRun.site_id).where(BillRun.id == rid))).first()
    if row is None:
        raise not_found("id", "出账批次", "bill run", str(rid))
    _visible(actor_of(request), row[0].site_id, "出账批次", "bill run", rid)
    return json_ok(run_json(row[0], row[1]))


# --- bills --------------------------------------------------------------------------------------


def line_json(ln: BillLine) -> dict[str, Any]:
    return {"id": ln.id, "kind": ln.kind, "fee_item_id": ln.fee_item_id,
            "fee_code": ln.fee_code, "description": ln.description,
            "quantity": str(ln.quantity), "unit_price": str(ln.unit_price),
            "amount": _money(ln.amount), "source": jsonable(ln.source)}


async def _bill(session: AsyncSession, request: web.Request, lock: bool = False
                ) -> tuple[Bill, str, str, str]:
    bid = _id(request, "账单", "bill")
    query = (select(Bill, Site.slug, Unit.code, Building.code)
             .join(Site, Site.id == Bill.site_id).join(Unit, Unit.id == Bill.unit_id)
             .join(Building, Building.id == Unit.building_id).where(Bill.id == bid))
    if lock:
        query = query.with_for_update(of=Bill)
    row = (await session.execute(query)).first()
    if row is None:
        raise not_found("id", "账单", "bill", str(bid))
    _visible(actor_of(request), row[0].site_id, "账单", "bill", bid)
    return row[0], row[1], row[2], row[3]


async def _detail(session: AsyncSession, request: web.Request) -> dict[str, Any]:
    bill, slug, unit, building = await _bill(session, request)
    await session.refresh(bill)
    lines = (await session.execute(select(BillLine).where(BillLine.bill_id == bill.id)
                                   .order_by(BillLine.id))).scalars().all()
    return {**bill_json(bill, slug, unit, building), "lines": [line_json(ln) for ln in lines]}


@requires("billing.read")
async def get_bill(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        return json_ok(await _detail(session, request))


def _refused(err: BillRefused) -> ApiError:
    code = "invalid_parameter" if err.status == 400 else "invalid_state"
    return ApiError(err.status, code, err.zh, err.en, field=err.field)


@requires("billing.write")
async def void_bill_handler(request: web.Request) -> web.Response:
    body = await json_object(request)
    unknown_fields(body, ("reason",))
    reason = text_field(body, "reason", MAX_TEXT)
    assert reason is not None
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                bill, *_ = await _bill(session, request, lock=True)
                await void_bill(session, bill, reason, actor_of(request), now)
        except BillRefused as err:
            raise _refused(err) from None
        return json_ok(await _detail(session, request))


@requires("billing.write")
async def adjust_bill_handler(request: web.Request) -> web.Response:
    """红冲 or correction: one line of ``amount`` (negative or positive) with the reason."""
    body = await json_object(request)
    unknown_fields(body, ("amount", "reason", "fee_code"))
    reason = text_field(body, "reason", MAX_TEXT)
    fee_code = text_field(body, "fee_code", 32, required=False)
    amount = parse_decimal(body.get("amount"))
    if amount is None or abs(amount) >= Decimal(10) ** 9:
        raise bad_param("amount", "须为金额字符串，例如 \"-12.50\"",
                        "must be an amount as a string, e.g. \"-12.50\"")
    assert reason is not None
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                bill, *_ = await _bill(session, request, lock=True)
                await adjust_bill(session, bill, amount, reason, fee_code, actor_of(request),
                                  now)
        except BillRefused as err:
            raise _refused(err) from None
        return json_ok(await _detail(session, request))


@requires("billing.write")
async def release_bill_handler(request: web.Request) -> web.Response:
    """Issue a held bill after review, optionally with corrected consumption per fee code."""
    body = await json_object(request)
    unknown_fields(body, ("note", "corrections"))
    note = text_field(body, "note", MAX_TEXT)
    raw = body.get("corrections") or {}
    if not isinstance(raw, dict):
        raise bad_param("corrections", "须为 {收费项目代码: 用量} 对象",
                        "must map fee codes to consumption")
    corrections: dict[str, Decimal] = {}
    for code, value in raw.items():
        q = parse_decimal(value)
        if q is None or q < 0 or q >= Decimal(10) ** 12:
            raise bad_param(f"corrections.{str(code)[:32]}", "用量须为非负十进制字符串",
                            "consumption must be a non-negative decimal string")
        corrections[str(code)] = q
    assert note is not None
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                bill, *_ = await _bill(session, request, lock=True)
                await release_bill(session, bill, note, corrections, actor_of(request), now,
                                   request.app.get(SETTLE))
        except BillRefused as err:
            raise _refused(err) from None
        return json_ok(await _detail(session, request))


def add_billing_routes(app: web.Application) -> None:
    """Register the routes of this module (and the bill-run page)."""
    app.cleanup_ctx.append(_queue_unfinished)
    r = app.router
    r.add_get("/api/fee-items", list_fee_items, name="fee_items")
    r.add_post("/api/fee-items", create_fee_item)
    r.add_get("/api/fee-items/{id}", get_fee_item, name="fee_item")
    r.add_patch("/api/fee-items/{id}", update_fee_item)
    r.add_get("/api/bill-runs", list_bill_runs, name="bill_runs")
    r.add_post("/api/bill-runs", start_bill_run)
    r.add_get("/api/bill-runs/{id}", get_bill_run, name="bill_run")
    r.add_get("/api/bills", list_bills, name="bills")
    r.add_get("/api/bills/export", export_bills, name="bills_export")
    r.add_get("/api/bills/{id}", get_bill, name="bill")
    r.add_post("/api/bills/{id}/void", void_bill_handler)
    r.add_post("/api/bills/{id}/adjust", adjust_bill_handler)
    r.add_post("/api/bills/{id}/release", release_bill_handler)


__all__ = ["add_billing_routes"]
