"""Taking payments at the desk through the API, on SQLite and PostgreSQL: partial payments,
overpayment refused on ``amount``, prepaid surplus, idempotency, reversal (红冲), receipts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.auth.audit import SYSTEM
from cloud.auth.tables import AuditEntry
from cloud.payments.balances import apply_prepaid
from cloud.payments.tables import Payment, PaymentAllocation, PrepaidEntry, Receipt
from cloud.settings import Settings
from contract import FakeClock
from tests.payments.conftest import T0, Community, Console, build
from tests.support.auth import admin_headers

NOV = date(2026, 12, 15)  # due date of the November bills: not overdue at T0 (12-01)


def _pay(amount: str, key: str, unit: str = "1-101", **extra: object) -> dict[str, object]:
    return {"site": "demo", "unit": unit, "amount": amount, "method": "wechat",
            "reference": "4200001234", "idempotency_key": key, **extra}


async def test_partial_then_full_payment_with_consecutive_receipts(
        console: Console, community: Community) -> None:
    bill = await community.bill("1-101", "2026-11", NOV, [("charge", "property", "250.00"),
                                                         ("charge", "water", "36.50")])
    first = await console.call("POST", "/api/payments", 201, _pay("100.00", "k1"))
    assert first["receipt"] == "DEMO-2026-000001"
    assert first["allocations"][0] | {"fees": None} == {
        "bill_id": bill, "bill": "DEMO-2026-11-1-101", "period": "2026-11", "amount": "100.00",
        "principal": "100.00", "late_fee": "0.00", "fees": None, "bill_state": "partial",
        "bill_paid": "100.00", "bill_total": "286.50"}
    assert first["allocations"][0]["fees"] == {"property": "100.00"}
    second = await console.call("POST", "/api/payments", 201, _pay("186.50", "k2"))
    assert second["receipt"] == "DEMO-2026-000002"
    assert second["allocations"][0]["fees"] == {"property": "150.00", "water": "36.50"}
    assert second["allocations"][0]["bill_state"] == "paid"
    got = await community.get_bill(bill)
    assert (got.state, got.paid) == ("paid", Decimal("286.50"))
    receipt = await console.call("GET", "/api/receipts/DEMO-2026-000002", 200)
    assert receipt["amount_capital"] == "壹佰捌拾陆元伍角"
    assert [(ln["fee_name"], ln["amount"]) for ln in receipt["lines"]] == [
        ("物业费", "150.00"), ("水费", "36.50")]
    assert receipt["unit"] == "1-101" and receipt["method"] == "wechat"
    page = await console.client.get("/finance/receipts/DEMO-2026-000002")
    html = await page.text()
    assert page.status == 200 and "壹佰捌拾陆元伍角" in html and "DEMO-2026-11-1-101" in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


async def test_oldest_due_bill_is_paid_first(console: Console, community: Community) -> None:
    newer = await community.bill("1-101", "2026-11", NOV, [("charge", "property", "100.00")])
    older = await community.bill("1-101", "2026-10", date(2026, 11, 25),
                                 [("charge", "property", "100.00")])
    out = await console.call("POST", "/api/payments", 201, _pay("150.00", "k"))
    assert [(a["bill_id"], a["amount"], a["bill_state"]) for a in out["allocations"]] == [
        (older, "100.00", "paid"), (newer, "50.00", "partial")]


async def test_overpayment_is_refused_naming_amount_and_nothing_is_applied(
        console: Console, community: Community) -> None:
    bill = await community.bill("1-101", "2026-11", NOV, [("charge", "property", "250.00")])
    err = (await console.call("POST", "/api/payments", 422, _pay("300.00", "k")))["error"]
    assert err["field"] == "amount" and err["debt"] == "250.00"
    assert "250.00" in err["message"].split(" / ")[0]
    got = await community.get_bill(bill)
    assert (got.state, got.paid) == ("open", Decimal("0.00"))
    async with community.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 0
    # The refused payment took no receipt number.
    ok = await console.call("POST", "/api/payments", 201, _pay("250.00", "k"))
    assert ok["receipt"] == "DEMO-2026-000001"


async def test_prepay_surplus_goes_to_the_balance_and_pays_the_next_bill(
        console: Console, community: Community) -> None:
    await community.bill("1-101", "2026-11", NOV, [("charge", "property", "250.00")])
    out = await console.call("POST", "/api/payments", 201,
                             _pay("1000.00", "k", prepay=True))
    assert (out["to_balance"], out["balance"]) == ("750.00", "750.00")
    receipt = await console.call("GET", f"/api/receipts/{out['receipt']}", 200)
    assert receipt["amount_capital"] == "壹仟元整" and receipt["to_balance"] == "750.00"
    # A unit with no bills at all may prepay the whole amount.
    solo = await console.call("POST", "/api/payments", 201,
                              _pay("300.00", "k2", unit="2-101", prepay=True))
    assert solo["allocations"] == [] and solo["balance"] == "300.00"
    dec = await community.bill("1-101", "2026-12", date(2027, 1, 15),
                               [("charge", "property", "250.00")])
    big = await community.bill("2-101", "2026-12", date(2027, 1, 15),
                               [("charge", "property", "500.00")])
    async with community.sessions() as s, s.begin():
        touched = await apply_prepaid(s, site_id=community.site_id, now=T0, actor=SYSTEM)
    assert touched == 2
    assert (await community.get_bill(dec)).state == "paid"
    partly = await community.get_bill(big)
    assert (partly.state, partly.paid) == ("partial", Decimal("300.00"))
    bal = await console.call("GET", "/api/balances?site=demo&unit=1-101", 200)
    assert bal["balance"] == "500.00"
    assert [(e["kind"], e["amount"]) for e in bal["entries"]] == [
        ("applied", "-250.00"), ("deposit", "750.00")]
    empty = await console.call("GET", "/api/balances?site=demo&unit=2-101", 200)
    assert empty["balance"] == "0.00"
    assert [b["due"] for b in empty["open_bills"]] == ["200.00"]
    async with community.sessions() as s:
        methods = (await s.scalars(select(Payment.method).order_by(Payment.id))).all()
    assert methods == ["wechat", "wechat", "prepaid", "prepaid"]
    async with community.sessions() as s, s.begin():  # nothing left to apply: a no-op
        assert await apply_prepaid(s, site_id=community.site_id, now=T0, actor=SYSTEM) == 0


async def test_same_idempotency_key_returns_the_first_payment(
        console: Console, community: Community) -> None:
    bill = await community.bill("1-101", "2026-11", NOV, [("charge", "property", "250.00")])
    first = await console.call("POST", "/api/payments", 201, _pay("100.00", "same"))
    again = await console.call("POST", "/api/payments", 200, _pay("100.00", "same"))
    assert again["id"] == first["id"] and again["replayed"] is True
    assert again["receipt"] == first["receipt"]
    assert (await community.get_bill(bill)).paid == Decimal("100.00")


async def test_reversal_restores_bills_and_issues_a_red_receipt(
        console: Console, community: Community) -> None:
    bill = await community.bill("1-101", "2026-11", NOV, [("charge", "property", "250.00")])
    await console.call("POST", "/api/payments", 201, _pay("100.00", "a"))
    pay = await console.call("POST", "/api/payments", 201, _pay("200.00", "b", prepay=True))
    assert (await community.get_bill(bill)).state == "paid"
    rev = await console.call("POST", f"/api/payments/{pay['id']}/reverse", 201,
                             {"reason": "金额录错 / wrong amount"})
    assert (rev["kind"], rev["amount"], rev["to_balance"], rev["reverses_id"]) == (
        "reversal", "-200.00", "-50.00", pay["id"])
    assert rev["receipt"] == "DEMO-2026-000003"
    got = await community.get_bill(bill)
    assert (got.state, got.paid) == ("partial", Decimal("100.00"))
    red = await console.call("GET", "/api/receipts/DEMO-2026-000003", 200)
    assert red["red"] is True and red["reverses"] == "DEMO-2026-000002"
    assert red["amount"] == "-200.00" and red["amount_capital"] == "负贰佰元整"
    bal = await console.call("GET", "/api/balances?site=demo&unit=1-101", 200)
    assert bal["balance"] == "0.00"
    again = await console.call("POST", f"/api/payments/{pay['id']}/reverse", 409,
                               {"reason": "again"})
    assert again["error"]["field"] == "id"
    await console.call("POST", f"/api/payments/{rev['id']}/reverse", 409, {"reason": "x"})
    original = await console.call("GET", f"/api/payments/{pay['id']}", 200)
    assert original["reversed_by"] == rev["id"] and original["amount"] == "200.00"
    async with community.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Receipt)) == 3
        actions = (await s.scalars(select(AuditEntry.action).where(
            AuditEntry.entity == "payment"))).all()
    assert sorted(actions) == ["create", "create", "create", "reverse"]


async def test_reversal_is_refused_when_the_prepaid_surplus_was_spent(
        console: Console, community: Community) -> None:
    pay = await console.call("POST", "/api/payments", 201, _pay("100.00", "a", prepay=True))
    await community.bill("1-101", "2026-12", date(2027, 1, 15),
                         [("charge", "property", "80.00")])
    async with community.sessions() as s, s.begin():
        await apply_prepaid(s, site_id=community.site_id, now=T0, actor=SYSTEM)
    err = (await console.call("POST", f"/api/payments/{pay['id']}/reverse", 409,
                              {"reason": "x"}))["error"]
    assert err["code"] == "balance_used" and err["balance"] == "20.00"


async def test_bad_input_names_the_field(console: Console, community: Community) -> None:
    other = await community.bill("1-102", "2026-11", NOV, [("charge", "property", "10.00")])
    void = await community.bill("1-101", "2026-11", NOV, [("charge", "property", "10.00")],
                                state="void")
    cases = [
        (_pay("0", "k"), 400, "amount"), (_pay("1.234", "k"), 400, "amount"),
        (_pay("abc", "k"), 400, "amount"), ({**_pay("1", "k"), "method": "bitcoin"}, 400,
                                            "method"),
        ({**_pay("1", "k"), "bills": [other]}, 422, "bills"),
        ({**_pay("1", "k"), "bills": [void]}, 409, "bills"),
        ({**_pay("1", "k"), "bills": "1"}, 400, "bills"),
        ({**_pay("1", "k"), "unit": "9-999"}, 404, "unit"),
        ({**_pay("1", "k"), "site": "nowhere"}, 404, "site"),
        ({**_pay("1", "k"), "extra": 1}, 400, "extra"),
        ({k: v for k, v in _pay("1", "k").items() if k != "idempotency_key"}, 400,
         "idempotency_key"),
    ]
    for body, status, field in cases:
        err = (await console.call("POST", "/api/payments", status, body))["error"]
        assert err["field"] == field, (body, err)
    await console.call("GET", "/api/payments/abc", 404)
    await console.call("GET", "/api/receipts/NOPE-1", 404)
    await console.call("GET", "/api/balances?site=demo", 400)


async def test_payments_list_and_export(console: Console, community: Community) -> None:
    await community.bill("1-101", "2026-11", NOV, [("charge", "property", "250.00")])
    await console.call("POST", "/api/payments", 201, _pay("100.00", "a"))
    listed = await console.call("GET", "/api/payments?site=demo&from=2026-12-01&to=2026-12-01",
                                200)
    assert [p["amount"] for p in listed["payments"]] == ["100.00"]
    none = await console.call("GET", "/api/payments?site=demo&from=2026-12-02", 200)
    assert none["payments"] == []
    resp = await console.client.get("/api/payments/export?site=demo&format=csv")
    text = (await resp.read()).decode("utf-8-sig")
    assert resp.status == 200
    rows = [line.split(",") for line in text.strip().splitlines()]
    assert rows[1][:5] == ["DEMO-2026-000001", "2026-12-01", "1-101", "wechat", "100.00"]
    xlsx = await console.client.get("/api/payments/export?site=demo&format=xlsx")
    assert xlsx.status == 200 and (await xlsx.read())[:2] == b"PK"
    await console.call("GET", "/api/payments/export?site=demo&format=pdf", 400)


async def test_finance_page_is_served_with_csp(console: Console) -> None:
    resp = await console.client.get("/finance")
    html = await resp.text()
    assert resp.status == 200 and "收费台" in html and "Cashier's desk" in html
    assert '<script src="/ui/shell.js" defer>' in html  # in the shell, which sends the CSRF token
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    js = await console.client.get("/finance/static/finance.js")
    assert js.status == 200 and "idempotency_key" in await js.text()
    assert (await console.client.get("/finance/static/../x.js")).status == 404


async def test_allocations_sum_to_the_payment(console: Console, community: Community) -> None:
    await community.bill("1-101", "2026-11", NOV, [("charge", "property", "99.99")])
    await community.bill("1-101", "2026-10", date(2026, 11, 20), [("charge", "water", "0.02")])
    out = await console.call("POST", "/api/payments", 201, _pay("100.01", "k"))
    async with community.sessions() as s:
        total = await s.scalar(select(func.sum(PaymentAllocation.amount)).where(
            PaymentAllocation.payment_id == out["id"]))
        entries = await s.scalar(select(func.count()).select_from(PrepaidEntry))
    assert total == Decimal("100.01") and entries == 0


async def test_the_desk_sees_todays_late_fee_before_it_is_stored(
        db_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
    """The balance shows what a payment made today would meet (late fee of today included),
    without writing it: the clerk's suggested amount then settles the bill exactly."""
    c = await build(sessions, {"daily_rate": "0.0005", "grace_days": 0, "cap": "1"})
    bill = await c.bill("1-101", "2026-10", date(2026, 11, 21), [("charge", "property", "200.00")])
    client = TestClient(TestServer(create_app(Settings(database_url=db_url), sessions,
                                              FakeClock(T0))))
    await client.start_server()
    try:
        headers = await admin_headers(sessions)
        resp = await client.get("/api/balances?site=demo&unit=1-101", headers=headers)
        [row] = (await resp.json())["open_bills"]
        # T0 is 12-01: 10 days × 200 × 0.0005 = 1.00
        assert (row["total"], row["due"]) == ("201.00", "201.00")
        assert (await c.get_bill(bill)).total == Decimal("200.00"), "nothing was stored"
        resp = await client.post("/api/payments", headers=headers, json=_pay(row["due"], "today"))
        assert resp.status == 201, await resp.text()
        assert (await resp.json())["allocations"][0]["bill_state"] == "paid"
    finally:
        await client.close()
