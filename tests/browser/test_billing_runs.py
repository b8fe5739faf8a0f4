"""The bill-run page and the cashier's money safety in a real Chromium as the finance login:
the month's run started from /billing/runs (clicks counted), the held bill opened to its lines
and passed (复核通过) with a note, and a double-click on 确认收款 books one payment. Every
effect is checked through the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import checked_page
from tests.support.auth import browser_login
from tests.support.staff_console import PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with checked_page(browser, width=1920, height=1080) as p:
        yield p


async def test_a_clerk_runs_the_month_and_passes_the_held_bill_from_the_page(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    await browser_login(page, staff.url, "finance", PASSWORD, then="/finance")
    clicks = 0
    await page.click('.cy-menu a[href="/billing/runs"]')
    clicks += 1
    # The period just over is filled in (the console's clock: December 2026, site time).
    await expect(page.locator("#cycle option:checked")).to_have_text("按月")
    await expect(page.locator("#period")).to_have_value(re.compile(r"^\d{4}-\d{2}$"))
    period = await page.input_value("#period")
    await page.dblclick("#start")  # a double-click starts one run, and says nothing wrong
    clicks += 1
    assert clicks <= 3
    held = page.locator("#held tr[data-bill]")
    await expect(held).to_have_count(1, timeout=30_000)
    run_row = page.locator("#runs tr[data-run]").first
    await expect(run_row).to_contain_text("已完成")
    await expect(run_row).not_to_contain_text("done")
    await expect(page.locator("#start-form .form-error")).to_be_hidden()
    await expect(page.locator("#start-form .field-error")).to_have_count(0)
    runs = await staff.get("/api/bill-runs?site=sunny")
    [run] = [r for r in runs["bill_runs"] if r["period"] == period]
    assert (run["state"], run["bills"], run["held"]) == ("done", 10, 1)
    await expect(run_row).to_contain_text(_yuan(run["total"]))

    # The held bill opens to its lines; the reason it was held is in words.
    await held.locator(".open-bill").click()
    detail = page.locator("#bill-detail")
    await expect(detail.locator("tr[data-line]").first).to_be_visible()
    await expect(detail).to_contain_text("水费")
    await expect(held).not_to_contain_text(" / ")  # zh-CN only, no bilingual clutter

    # 复核通过 needs a note: without one the page says so next to it.
    await held.locator("button.release").click()
    await expect(held.locator(".field-error")).to_contain_text("复核说明")
    assert len((await staff.get("/api/bills?site=sunny&state=held"))["bills"]) == 1
    bill_id = await held.get_attribute("data-bill")
    await held.locator(".note-input").fill("抄表员核实，读数无误")
    await held.locator("button.release").click()
    await expect(held).to_have_count(0)
    assert (await staff.get("/api/bills?site=sunny&state=held"))["bills"] == []
    released = await staff.get(f"/api/bills/{bill_id}")
    assert released["state"] == "open", released["state"]


async def test_a_double_click_on_take_payment_takes_one_payment(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    await browser_login(page, staff.url, "finance", PASSWORD, then="/finance?site=sunny")
    # 小区 is the shell's, chosen by name; the slug stays behind the option.
    await expect(page.locator("#cy-site option:checked")).to_have_text("阳光花园")
    await page.fill("#q", "3-102")
    await page.click("#lookup button[type=submit]")
    await expect(page.locator("#acc-unit")).to_have_text("3-102")
    await page.fill("#amount", "10.00")
    await page.locator("#pay-button").dblclick()
    await expect(page.locator("#message")).to_contain_text("收款成功")
    await expect(page.locator("#pay-button")).to_be_enabled()
    receipt = await page.locator("#receipt-link a").text_content()
    assert receipt is not None and "打印收据" in receipt
    assert await _amounts(staff) == ["10.00"], "a double-click booked the payment twice"

    # The next payment is a new one (a new key), and goes through as a second payment.
    await page.fill("#amount", "5.00")
    await page.locator("#pay-button").click()
    await expect(page.locator("#message")).to_contain_text("5.00")
    assert await _amounts(staff) == ["5.00", "10.00"]

    # More than the debt without 存入预存款 is refused next to the amount; nothing is lost.
    await page.fill("#amount", "99999.00")
    await page.locator("#pay-button").click()
    await expect(page.locator("#pay .field-error")).to_contain_text("多余部分存入预存款")
    await expect(page.locator("#pay .field-error")).not_to_contain_text("prepay")
    await expect(page.locator("#amount")).to_have_value("99999.00")
    assert await _amounts(staff) == ["5.00", "10.00"]


def _yuan(value: str) -> str:
    whole, _, frac = value.partition(".")
    return f"{whole}.{(frac + '00')[:2]}"


async def _amounts(staff: StaffConsole) -> list[str]:
    data = await staff.get("/api/payments?site=sunny&unit=3-102")
    return [p["amount"] for p in data["payments"]]
