"""The cashier's desk (/finance) in a real Chromium as the finance login: a payment for a unit
found by its owner's name (clicks counted from the desk), a bill opened to its lines, a
receipt reprinted and a payment reversed (红冲) with its reason; every effect is checked
through the API. 阳光花园's unit 3-102 carries October's unpaid property fee (300.00)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import checked_page, raw_codes
from tests.support.auth import browser_login
from tests.support.staff_console import PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
OWNER = "欧阳芳"
UNIT = "3-102"


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with checked_page(browser, width=1920, height=1080) as p:
        yield p


async def _owner(staff: StaffConsole) -> None:
    await staff.api("POST", "/api/owners", {"site": "sunny", "unit": UNIT, "name": OWNER,
                                            "phone": "13900001234"}, expect=201)


async def _payments(staff: StaffConsole, unit: str = UNIT) -> list[dict[str, Any]]:
    data = await staff.get(f"/api/payments?site=sunny&unit={unit}")
    payments: list[dict[str, Any]] = data["payments"]
    return payments


async def test_a_payment_for_the_unit_found_by_its_owners_name_takes_two_clicks(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    await _owner(staff)
    # What is owed today: October's fee and its late fee since 16 November.
    [owed] = (await staff.get(f"/api/balances?site=sunny&unit={UNIT}"))["open_bills"]
    assert owed["due"] != "300.00"
    await browser_login(page, staff.url, "finance", PASSWORD, then="/finance")
    clicks = 0
    # The desk opens with the cursor in the search box: the clerk types the owner's name.
    await expect(page.locator("#q")).to_be_focused()
    await page.keyboard.type(OWNER)
    await page.click("#lookup button[type=submit]")
    clicks += 1
    # One unit found: its account opens at once, today's debt filled in as the amount.
    await expect(page.locator("#acc-unit")).to_have_text(UNIT)
    await expect(page.locator("#acc-people")).to_contain_text(OWNER)
    await expect(page.locator("#amount")).to_have_value(owed["due"])
    await expect(page.locator("#bills tr[data-bill]")).to_have_count(1)
    await expect(page.locator("#bills")).to_contain_text("未缴")
    await page.locator(".open-bill").first.click()  # not counted: reading, not paying
    await expect(page.locator("#bill-detail")).to_be_visible()
    assert await raw_codes(page) == [], "a stored code on the account"
    if os.environ.get("COURTYARD_SCREENSHOTS") == "1":  # the account with a bill's lines open
        await _screenshot(page)
    await page.click("#pay-button")
    clicks += 1
    await expect(page.locator("#message")).to_contain_text(f"收款成功：{owed['due']} 元")
    assert clicks == 2

    [paid] = await _payments(staff)
    assert (paid["amount"], paid["method"], paid["kind"]) == (owed["due"], "cash", "payment")
    assert paid["allocations"][0]["bill_state"] == "paid", "today's debt settles the bill"
    await expect(page.locator("#bills")).to_contain_text("没有未缴账单")
    assert paid["taken_by"], "the payment names the login that took it"
    # The receipt is linked for printing and listed among the site's receipts, newest first.
    await expect(page.locator("#receipt-link a")).to_have_text(f"打印收据 {paid['receipt']}")
    await expect(page.locator("#receipts tr[data-payment]").first).to_have_attribute(
        "data-receipt", paid["receipt"])
    await expect(page.locator("#receipts tr[data-payment]").first).to_contain_text("现金")


async def test_several_units_found_are_listed_to_pick_and_a_bill_opens_to_its_lines(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    await staff.api("POST", "/api/owners", {"site": "sunny", "unit": "1-101", "name": "欧阳建国"},
                    expect=201)
    await _owner(staff)
    await browser_login(page, staff.url, "finance", PASSWORD, then="/finance")
    await page.fill("#q", "欧阳")
    await page.click("#lookup button[type=submit]")
    picks = page.locator("#results .pick-unit")
    await expect(picks).to_have_count(2)
    await page.click(f'#results .pick-unit[data-unit="{UNIT}"]')
    await expect(page.locator("#acc-unit")).to_have_text(UNIT)
    await page.locator("#bills .open-bill").click()
    detail = page.locator("#bill-detail")
    await expect(detail).to_be_visible()
    await expect(detail.locator("tr[data-line]")).to_have_count(1)
    await expect(detail.locator("tr[data-line]")).to_contain_text("物业费 期初欠费")
    await expect(detail.locator("tr[data-line]")).to_contain_text("300.00")
    await expect(detail).not_to_contain_text("opening arrears")  # zh-CN only
    await expect(detail).not_to_contain_text(".000000")  # no storage padding
    # The late fee of today is not on the stored bill yet: the desk says what a payment adds.
    await expect(detail).to_contain_text("今天付款另计滞纳金")

    # Arrears by building name (the code stays behind the choice).
    await page.select_option("#a-building", label="3号楼（含商铺）")
    await page.click("#arrears-form button[type=submit]")
    await expect(page.locator("#arrears tr")).to_have_count(1)
    await expect(page.locator("#arrears tr")).to_contain_text(OWNER)
    await expect(page.locator("#arrears-total")).to_contain_text("共 1 户欠费")

    # Nothing found says so next to the box and keeps what was typed.
    await page.fill("#q", "没有这个人")
    await page.click("#lookup button[type=submit]")
    await expect(page.locator("#lookup .field-error")).to_contain_text("没有找到")
    await expect(page.locator("#q")).to_have_value("没有这个人")


async def test_a_receipt_is_reprinted_and_a_payment_reversed_with_its_reason(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    taken = await staff.api("POST", "/api/payments", {
        "site": "sunny", "unit": UNIT, "amount": "120.00", "method": "wechat",
        "idempotency_key": "desk-test-1"}, expect=201)
    [bill] = taken["allocations"]
    assert bill["bill_state"] == "partial"
    await browser_login(page, staff.url, "finance", PASSWORD, then="/finance")
    row = page.locator(f'#receipts tr[data-receipt="{taken["receipt"]}"]')
    await expect(row).to_contain_text("微信支付")
    await expect(row).to_contain_text("120.00")

    # 重新打印 opens the printable receipt.
    async with page.context.expect_page() as opened:
        await row.locator(".reprint").click()
    receipt = await opened.value
    await receipt.wait_for_load_state()
    assert taken["receipt"] in (await receipt.content())
    await receipt.close()

    # 红冲 asks for the reason first; without one nothing is reversed.
    await row.locator(".reverse").click()
    ask = page.locator("#receipts tr.reverse-form")
    await expect(ask).to_be_visible()
    await ask.locator(".confirm-reverse").click()
    await expect(ask.locator(".field-error")).to_contain_text("红冲原因")
    assert len(await _payments(staff)) == 1
    await ask.locator("input[name=reason]").fill("金额录错，应为 210 元")
    await ask.locator(".confirm-reverse").dblclick()
    await expect(row).to_contain_text("已红冲")
    await expect(row.locator(".reverse")).to_have_count(0)

    payments = await _payments(staff)
    [reversal] = [p for p in payments if p["kind"] == "reversal"]
    assert reversal["reverses_id"] == taken["id"]
    assert reversal["reason"] == "金额录错，应为 210 元"
    assert reversal["amount"] == "-120.00"
    assert len(payments) == 2, "a double-click reversed once"
    red = page.locator(f'#receipts tr[data-receipt="{reversal["receipt"]}"]')
    await expect(red).to_contain_text("金额录错")
    await expect(red).to_contain_text("-120.00")
    again = await staff.get(f"/api/bills/{bill['bill_id']}")
    assert (again["state"], again["paid"]) == ("open", "0.00"), "the bill is due again"

    # English only through the language switch: the same list in words, no codes.
    await page.click("#cy-lang")
    await expect(page.locator("#receipts-section h2")).to_have_text("Receipts")
    await expect(row).to_contain_text("WeChat Pay")
    await expect(row).to_contain_text("Reversed (red receipt")
    await expect(red).to_contain_text("Reversal · WeChat Pay")
    await expect(page.locator("#receipts")).not_to_contain_text("wechat")


async def _screenshot(page: Page) -> None:
    shot = REPO / "docs" / "screenshots" / "finance-1920.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shot), type="png")
    assert shot.stat().st_size < 300_000, shot.stat().st_size
