"""Payments, prepaid balances, receipts, late fees, reminders, arrears and collection rate.

``POST /api/payments`` takes a payment in one transaction (allocation, prepaid surplus,
receipt, audit); the idempotency key makes a resubmitted form return the first payment.
``POST /api/payments/{id}/reverse`` reverses one (红冲). Refusals name the field: a payment
larger than the debt is a 422 on ``amount`` with the debt beside it. Reads are limited to the
sites the actor serves; another site's record is a 404.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, actor_of, record
from cloud.auth.guard import requires
from cloud.billing.tables import Bill
from cloud.db.models import Site
from cloud.payments.arrears import GROUPINGS, arrears, collection, mask_phone, totals
from cloud.payments.late_fees import assess_late_fees, local_date, totals_as_of
from cloud.payments.listing import payments_page
from cloud.payments.receipts import receipt_json
from cloud.payments.reminders import LogSender, dispatch_due, schedule_reminders
from cloud.payments.service import (
    Refused,
    allocations_of,
    balance_of,
    find_payment,
    record_payment,
    reverse_payment,
)
from cloud.payments.tables import PAYMENT_METHODS, Payment, PrepaidEntry, Receipt
from cloud.records.tables import Building, Unit
from cloud.web.body import json_object, text_field, unknown_fields
from cloud.web.cursor import encode_newest_first, newest_first_cursor
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.params import int_param, text_param
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok
from cloud.web.tabular import CONTENT_TYPES, write_table

MAX_ID = 2**31 - 1
MAX_AMOUNT = Decimal("9999999999.99")
MAX_BILLS = 200
PAY_FIELDS = ("site", "unit", "amount", "method", "reference", "payer", "bills", "prepay",
              "idempotency_key")


# --- input --------------------------------------------------------------------------------------


def body_amount(body: dict[str, Any], name: str) -> Decimal:
    raw = body.get(name)
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise bad_param(name, "必须是金额，例如 \"123.45\"", "must be an amount, e.g. \"123.45\"")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise bad_param(name, f"不是金额：{str(raw)[:40]!r}",
                        f"not an amount: {str(raw)[:40]!r}") from None
    if not value.is_finite() or value <= 0 or value > MAX_AMOUNT:
        raise bad_param(name, f"必须大于 0 且不超过 {MAX_AMOUNT}",
                        f"must be more than 0 and at most {MAX_AMOUNT}")
    if value != value.quantize(Decimal("0.01")):
        raise bad_param(name, "最多两位小数（分）", "at most two decimal places (fen)")
    return value.quantize(Decimal("0.01"))


def date_param(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise bad_param(name, f"不是日期（YYYY-MM-DD）：{raw[:40]!r}",
                        f"not a date (YYYY-MM-DD): {raw[:40]!r}") from None


def format_param(request: web.Request) -> str:
    fmt = request.query.get("format", "csv")
    if fmt not in CONTENT_TYPES:
        raise bad_param("format", "格式须为 csv 或 xlsx", "format must be csv or xlsx")
    return fmt


def path_id(request: web.Request, what_zh: str, what_en: str) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", what_zh, what_en, raw[:40])
    return int(raw)


def refused(err: Refused) -> ApiError:
    return ApiError(err.status, err.code, err.zh, err.en, field=err.field, **err.extra)


async def visible_site(session: AsyncSession, actor: Actor, slug: str) -> Site:
    site = await site_by_slug(session, slug)
    if not actor.may_see(site.id):
        raise not_found("site", "小区", "site", slug)
    return site


async def unit_by_code(session: AsyncSession, site: Site, code: str, field: str = "unit") -> Unit:
    unit = (await session.execute(select(Unit).where(
        Unit.site_id == site.id, Unit.code == code))).scalar_one_or_none()
    if unit is None:
        raise not_found(field, "房屋", "unit", code)
    return unit


def required_query(request: web.Request, name: str, max_len: int) -> str:
    value = text_param(request, name, max_len)
    if value is None:
        raise bad_param(name, "必须填写", "required")
    return value


# --- presentation -------------------------------------------------------------------------------


def payment_json(payment: Payment, site: Site, unit_code: str,
                 allocations: list[tuple[Any, Bill]]) -> dict[str, Any]:
    return {
        "id": payment.id, "site": site.slug, "unit": unit_code, "kind": payment.kind,
        "method": payment.method, "amount": str(payment.amount),
        "to_balance": str(payment.to_balance), "reference": payment.reference,
        "payer": payment.payer, "idempotency_key": payment.idempotency_key,
        "reverses_id": payment.reverses_id, "reason": payment.reason,
        "receipt": payment.receipt_number, "taken_by": payment.taken_by_name,
        "received_at": payment.received_at.isoformat(),
        "received_date": local_date(payment.received_at, site).isoformat(),
        "allocations": [{"bill_id": bill.id, "bill": bill.number, "period": bill.period,
                         "amount": str(a.amount), "principal": str(a.principal),
                         "late_fee": str(a.late_fee), "fees": a.fees,
                         "bill_state": bill.state, "bill_paid": str(bill.paid),
                         "bill_total": str(bill.total)} for a, bill in allocations]}


async def _payment_out(session: AsyncSession, payment: Payment) -> dict[str, Any]:
    site = await session.get(Site, payment.site_id)
    unit = await session.get(Unit, payment.unit_id)
    assert site is not None and unit is not None
    allocs = (await allocations_of(session, [payment.id]))[payment.id]
    out = payment_json(payment, site, unit.code, allocs)
    out["balance"] = str(await balance_of(session, unit.id))
    reversal = (await session.execute(select(Payment.id).where(
        Payment.reverses_id == payment.id))).scalar_one_or_none()
    out["reversed_by"] = reversal
    return out


# --- payments -----------------------------------------------------------------------------------


@requires("billing.write")
async def create_payment(request: web.Request) -> web.Response:
    """Take a payment for a unit: allocate, keep any prepaid surplus, number a receipt."""
    body = await json_object(request, decimals=True)
    unknown_fields(body, PAY_FIELDS)
    slug = text_field(body, "site", 63)
    code = text_field(body, "unit", 64)
    amount = body_amount(body, "amount")
    method = body.get("method")
    if method not in PAYMENT_METHODS:
        raise bad_param("method", f"收款方式须为 {', '.join(PAYMENT_METHODS)}",
                        f"method must be one of {', '.join(PAYMENT_METHODS)}")
    reference = text_field(body, "reference", 64, required=False)
    payer = text_field(body, "payer", 100, required=False)
    key = text_field(body, "idempotency_key", 64)
    prepay = body.get("prepay", False)
    if not isinstance(prepay, bool):
        raise bad_param("prepay", "必须是 true 或 false", "must be true or false")
    bills = body.get("bills")
    if bills is not None:
        if (not isinstance(bills, list) or not bills or len(bills) > MAX_BILLS
                or not all(isinstance(b, int) and not isinstance(b, bool) and 0 < b <= MAX_ID
                           for b in bills) or len(set(bills)) != len(bills)):
            raise bad_param("bills", f"须为 1 到 {MAX_BILLS} 个不重复的账单 id",
                            f"must be 1 to {MAX_BILLS} distinct bill ids")
    assert slug is not None and code is not None and key is not None
    actor = actor_of(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                site = await visible_site(session, actor, slug)
                unit = await unit_by_code(session, site, code)
                payment, replayed = await record_payment(
                    session, site=site, unit=unit, amount=amount, method=method, key=key,
                    now=now, actor=actor, reference=reference, payer=payer, bill_ids=bills,
                    prepay=prepay)
                out = await _payment_out(session, payment)
        except Refused as err:
            raise refused(err) from None
        except IntegrityError:  # the same key sent twice at once: the other one won
            await session.rollback()
            async with session.begin():
                site = await visible_site(session, actor, slug)
                existing = await find_payment(session, site.id, key)
                if existing is None:
                    raise ApiError(409, "conflict", "与另一笔同时提交的收款冲突，请重试",
                                   "conflicted with a payment made at the same time; retry",
                                   field="idempotency_key") from None
                out = await _payment_out(session, existing)
                replayed = True
    out["replayed"] = replayed
    return json_ok(out, status=200 if replayed else 201)


@requires("billing.read")
async def list_payments(request: web.Request) -> web.Response:
    """Payments of a site, newest first, by unit and site-local date range; ``next`` (as
    ``after``) asks for the next page, one query each."""
    slug = required_query(request, "site", 63)
    code = text_param(request, "unit", 64)
    since, until = date_param(request, "from"), date_param(request, "to")
    limit = int_param(request, "limit", 100, 1, 1000)
    after = newest_first_cursor(request)
    async with request.app[SESSIONS]() as session:
        site = await visible_site(session, actor_of(request), slug)
        rows = await payments_page(session, site, code, since, until, limit + 1, after)
        more = len(rows) > limit
        rows = rows[:limit]
        ids = [p.id for p, _ in rows]
        allocs = await allocations_of(session, ids)
        # The desk's receipt list shows which payments a 红冲 undid, without one call each.
        reversed_by: dict[int | None, int] = {
            of: rid for of, rid in (await session.execute(select(
                Payment.reverses_id, Payment.id).where(Payment.reverses_id.in_(ids)))).all()
        } if ids else {}
        last = rows[-1][0] if more else None
        return json_ok({"site": site.slug, "payments": [
            {**payment_json(p, site, u, allocs[p.id]), "reversed_by": reversed_by.get(p.id)}
            for p, u in rows],
            "next": encode_newest_first(last.received_at, last.id) if last else None})


@requires("billing.read")
async def get_payment(request: web.Request) -> web.Response:
    pid = path_id(request, "收款", "payment")
    actor = actor_of(request)
    async with request.app[SESSIONS]() as session:
        payment = await session.get(Payment, pid)
        if payment is None or not actor.may_see(payment.site_id):
            raise not_found("id", "收款", "payment", str(pid))
        return json_ok(await _payment_out(session, payment))


@requires("billing.write")
async def reverse(request: web.Request) -> web.Response:
    """红冲: a negative payment and red receipt that undo this payment."""
    pid = path_id(request, "收款", "payment")
    body = await json_object(request, decimals=True)
    unknown_fields(body, ("reason",))
    reason = text_field(body, "reason", 500)
    assert reason is not None
    actor = actor_of(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                payment = (await session.execute(select(Payment).where(
                    Payment.id == pid).with_for_update())).scalar_one_or_none()
                if payment is None or not actor.may_see(payment.site_id):
                    raise not_found("id", "收款", "payment", str(pid))
                site = await session.get(Site, payment.site_id)
                assert site is not None
                reversal = await reverse_payment(session, site=site, payment=payment,
                                                 reason=reason, now=now, actor=actor)
                out = await _payment_out(session, reversal)
        except Refused as err:
            raise refused(err) from None
        except IntegrityError:
            raise ApiError(409, "already_reversed", "该收款已冲销",
                           "this payment was already reversed", field="id") from None
    return json_ok(out, status=201)


@requires("billing.read")
async def export_payments(request: web.Request) -> web.Response:
    slug = required_query(request, "site", 63)
    fmt = format_param(request)
    since, until = date_param(request, "from"), date_param(request, "to")
    async with request.app[SESSIONS]() as session:
        site = await visible_site(session, actor_of(request), slug)
        rows = await payments_page(session, site, text_param(request, "unit", 64), since, until,
                               None)
        allocs = await allocations_of(session, [p.id for p, _ in rows])
    headers = ["收据号 receipt", "日期 date", "房屋 unit", "方式 method", "金额 amount",
               "转预存 to_balance", "凭证号 reference", "类型 kind", "冲销 reverses",
               "账单 bills", "收款人 taken_by"]
    table = [[p.receipt_number, local_date(p.received_at, site), u, p.method, p.amount,
              p.to_balance, p.reference, p.kind, p.reverses_id,
              " ".join(b.number for _, b in allocs[p.id]), p.taken_by_name] for p, u in rows]
    return _file(write_table(headers, table, fmt, "payments"), fmt, f"payments-{site.slug}")  # type: ignore[arg-type]


def _file(data: bytes, fmt: str, stem: str) -> web.Response:
    return web.Response(body=data, headers={
        "Content-Type": CONTENT_TYPES[fmt],
        "Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})


# --- balances, receipts -------------------------------------------------------------------------


@requires("billing.read")
async def get_balance(request: web.Request) -> web.Response:
    """A unit's prepaid balance with its ledger, and its open bills (the desk's view)."""
    slug = required_query(request, "site", 63)
    code = required_query(request, "unit", 64)
    async with request.app[SESSIONS]() as session:
        site = await visible_site(session, actor_of(request), slug)
        unit = await unit_by_code(session, site, code)
        entries = (await session.scalars(select(PrepaidEntry).where(
            PrepaidEntry.unit_id == unit.id).order_by(PrepaidEntry.id.desc()).limit(100))).all()
        bills = (await session.scalars(select(Bill).where(
            Bill.unit_id == unit.id, Bill.state.in_(("open", "partial")))
            .order_by(Bill.due_date, Bill.id))).all()
        building = await session.get(Building, unit.building_id)
        # Today's late fees, not stored until a payment or an assessment: what is owed now.
        today = await totals_as_of(session, site=site, bills=bills,
                                   as_of=local_date(request.app[CLOCK].now(), site))
        return json_ok({
            "site": site.slug, "unit": unit.code,
            "building": building.code if building else None,
            "balance": str(await balance_of(session, unit.id)),
            "entries": [{"id": e.id, "kind": e.kind, "amount": str(e.amount),
                         "payment_id": e.payment_id, "bill_id": e.bill_id, "note": e.note,
                         "at": e.created_at.isoformat()} for e in entries],
            "open_bills": [{"id": b.id, "number": b.number, "period": b.period,
                            "state": b.state, "total": str(today.get(b.id, b.total)),
                            "paid": str(b.paid), "due": str(today.get(b.id, b.total) - b.paid),
                            "due_date": b.due_date.isoformat()}
                           for b in bills]})


async def load_receipt(request: web.Request, session: AsyncSession) -> Receipt:
    number = request.match_info["number"]
    receipt = None
    if len(number) <= 40:
        receipt = (await session.execute(select(Receipt).where(
            Receipt.number == number))).scalar_one_or_none()
    if receipt is None or not actor_of(request).may_see(receipt.site_id):
        raise not_found("number", "收据", "receipt", number[:40])
    return receipt


@requires("billing.read")
async def get_receipt(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        return json_ok(receipt_json(await load_receipt(request, session)))


# --- late fees and reminders --------------------------------------------------------------------


def _as_of(body: dict[str, Any], site: Site, request: web.Request) -> date:
    raw = body.get("as_of")
    if raw is None:
        return local_date(request.app[CLOCK].now(), site)
    try:
        if not isinstance(raw, str):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise bad_param("as_of", "须为日期 YYYY-MM-DD", "must be a date, YYYY-MM-DD") from None


@requires("billing.write")
async def assess(request: web.Request) -> web.Response:
    """Bring the site's late fees up to date (as of today, site time, unless ``as_of``)."""
    body = await json_object(request, decimals=True)
    unknown_fields(body, ("site", "as_of"))
    slug = text_field(body, "site", 63)
    assert slug is not None
    actor = actor_of(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        site = await visible_site(session, actor, slug)
        as_of = _as_of(body, site, request)
        changed = await assess_late_fees(session, site_id=site.id, as_of=as_of, now=now,
                                         actor=actor)
        record(session, at=now, actor=actor, action="assess_late_fees", entity="site",
               entity_id=site.id, site_id=site.id,
               detail={"as_of": as_of.isoformat(), "bills_changed": changed})
    return json_ok({"site": site.slug, "as_of": as_of.isoformat(), "bills_changed": changed})


@requires("billing.write")
async def run_reminders(request: web.Request) -> web.Response:
    """Schedule the site's reminders as of a day and send what is due with the log sender."""
    body = await json_object(request, decimals=True)
    unknown_fields(body, ("site", "as_of"))
    slug = text_field(body, "site", 63)
    assert slug is not None
    actor = actor_of(request)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        site = await visible_site(session, actor, slug)
        as_of = _as_of(body, site, request)
        created = await schedule_reminders(session, site.id, as_of)
    counts = await dispatch_due(request.app[SESSIONS], LogSender(), now)
    return json_ok({"site": site.slug, "as_of": as_of.isoformat(), "scheduled": created,
                    **counts})


# --- arrears and statistics ---------------------------------------------------------------------


async def _arrears_rows(request: web.Request) -> tuple[Site, list[dict[str, Any]]]:
    slug = required_query(request, "site", 63)
    building = text_param(request, "building", 32)
    period = text_param(request, "period", 16)
    fee = text_param(request, "fee", 32)
    actor = actor_of(request)
    now = request.app[CLOCK].now()
    show_phone = actor.can("people.read")
    async with request.app[SESSIONS]() as session, session.begin():
        site = await visible_site(session, actor, slug)
        rows = await arrears(session, site_id=site.id, today=local_date(now, site),
                             building=building, period=period, fee=fee)
        if show_phone and any(r.phone for r in rows):
            record(session, at=now, actor=actor, action="view", entity="resident",
                   site_id=site.id, detail={"fields": ["name", "phone"], "via": "arrears",
                                            "units": [r.unit for r in rows][:500]})
    return site, [{"unit": r.unit, "building": r.building, "owner": r.owner,
                   "phone": r.phone if show_phone else mask_phone(r.phone),
                   "bills": r.bills, "unpaid": str(r.unpaid),
                   "oldest_due": r.oldest_due.isoformat(), "days_overdue": r.days_overdue,
                   "periods": r.periods} for r in rows]


@requires("billing.read")
async def list_arrears(request: web.Request) -> web.Response:
    site, rows = await _arrears_rows(request)
    total = sum((Decimal(r["unpaid"]) for r in rows), Decimal("0.00"))
    return json_ok({"site": site.slug, "units": len(rows), "total": str(total),
                    "arrears": rows})


@requires("billing.read")
async def export_arrears(request: web.Request) -> web.Response:
    fmt = format_param(request)
    site, rows = await _arrears_rows(request)
    headers = ["房屋 unit", "楼栋 building", "业主 owner", "电话 phone", "账单数 bills",
               "欠款 unpaid", "最早到期 oldest_due", "逾期天数 days_overdue", "账期 periods"]
    table = [[r["unit"], r["building"], r["owner"], r["phone"], r["bills"],
              Decimal(r["unpaid"]), r["oldest_due"], r["days_overdue"], " ".join(r["periods"])]
             for r in rows]
    return _file(write_table(headers, table, fmt, "arrears"), fmt, f"arrears-{site.slug}")  # type: ignore[arg-type]


@requires("billing.read")
async def collection_stats(request: web.Request) -> web.Response:
    """收缴率: collected ÷ billed principal of the period's bills (late fees excluded)."""
    slug = required_query(request, "site", 63)
    period = text_param(request, "period", 16)
    by = request.query.get("by", "building")
    if by not in GROUPINGS:
        raise bad_param("by", f"分组须为 {', '.join(GROUPINGS)}",
                        f"by must be one of {', '.join(GROUPINGS)}")
    async with request.app[SESSIONS]() as session:
        site = await visible_site(session, actor_of(request), slug)
        groups = await collection(session, site_id=site.id, period=period, by=by)
    return json_ok({"site": site.slug, "period": period, "by": by, "groups": groups,
                    "total": totals(groups)})


def add_payment_routes(app: web.Application) -> None:
    """Register the routes of this module (and the finance pages)."""
    app.router.add_post("/api/payments", create_payment, name="payments_create")
    app.router.add_get("/api/payments", list_payments, name="payments_list")
    app.router.add_get("/api/payments/export", export_payments, name="payments_export")
    app.router.add_get("/api/payments/{id}", get_payment, name="payments_get")
    app.router.add_post("/api/payments/{id}/reverse", reverse, name="payments_reverse")
    app.router.add_get("/api/balances", get_balance, name="balances_get")
    app.router.add_get("/api/receipts/{number}", get_receipt, name="receipts_get")
    app.router.add_post("/api/late-fees/assess", assess, name="late_fees_assess")
    app.router.add_post("/api/reminders/run", run_reminders, name="reminders_run")
    app.router.add_get("/api/arrears", list_arrears, name="arrears_list")
    app.router.add_get("/api/arrears/export", export_arrears, name="arrears_export")
    app.router.add_get("/api/stats/collection", collection_stats, name="stats_collection")
