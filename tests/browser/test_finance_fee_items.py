"""Fee items and car-park tariffs edited on /billing/fee-items in a real Chromium as the
finance login: a fee item created and edited (kind and cycle as choices), a refused edit
showing the API's message next to its field with nothing typed lost, and a lot's tariff
changed. Every effect is checked through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import checked_page
from tests.support.auth import browser_login
from tests.support.staff_console import PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

TARIFF = {"id": "lot-main-std", "name": "地面车场", "rounding": "fen", "free_minutes": 30,
          "grace_minutes": 15, "lost_entry": "daily_cap",
          "prices": {"small": {"first_period": {"minutes": 120, "price": "5"},
                               "unit": {"minutes": 60, "price": "2"}, "daily_cap": "20"}}}


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with checked_page(browser, width=1600, height=1000) as p:
        yield p


async def _fee(staff: StaffConsole, code: str) -> dict[str, Any]:
    items = (await staff.get("/api/fee-items?site=sunny"))["fee_items"]
    [item] = [f for f in items if f["code"] == code]
    return item  # type: ignore[no-any-return]


async def test_a_fee_item_is_created_edited_and_a_refused_edit_names_its_field(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    await browser_login(page, staff.url, "finance", PASSWORD, then="/finance")
    await page.click('.cy-menu a[href="/billing/fee-items"]')
    await expect(page.locator("#fee-items tr[data-code=PF]")).to_contain_text("按面积")
    await expect(page.locator("#fee-items")).not_to_contain_text("monthly")

    await page.click("#new-fee")
    form = page.locator("#fee-form")
    await form.locator("[name=code]").fill("LIFT")
    await form.locator("[name=name]").fill("电梯运行费")
    await form.locator("[name=kind]").select_option("fixed")
    await form.locator("[name=cycle]").select_option("quarterly")
    await form.locator('[name="rule.amount"]').fill("12.50")
    await form.locator('[name="rule.exclude_vacant"]').check()
    await page.locator("#save-fee").dblclick()
    await expect(page.locator("#fee-items tr[data-code=LIFT]")).to_contain_text("按季")
    item = await _fee(staff, "LIFT")
    assert (item["name"], item["kind"], item["cycle"]) == ("电梯运行费", "fixed", "quarterly")
    assert item["rule"] == {"amount": "12.50", "exclude_vacant": True}
    assert item["late_fee"] is None

    await page.locator("#fee-items tr[data-code=LIFT] .edit-fee").click()
    await expect(form.locator('[name="rule.amount"]')).to_have_value("12.50")
    await form.locator('[name="rule.amount"]').fill("-3")
    await form.locator("[name=name]").fill("电梯运行维护费")
    await page.click("#save-fee")
    error = form.locator(".field-error")
    await expect(error).to_contain_text("须在 0 到 1000000 之间")
    await expect(form.locator('label:has([name="rule.amount"]) + .field-error')).to_be_visible()
    await expect(form.locator("[name=name]")).to_have_value("电梯运行维护费")
    assert (await _fee(staff, "LIFT"))["rule"]["amount"] == "12.50"

    await form.locator('[name="rule.amount"]').fill("15.00")
    await form.locator('[name="late_fee.daily_rate"]').fill("0.0005")
    await page.click("#save-fee")
    await expect(form).to_be_hidden()
    await expect(page.locator("#fee-items tr[data-code=LIFT]")).to_contain_text("电梯运行维护费")
    item = await _fee(staff, "LIFT")
    assert item["name"] == "电梯运行维护费"
    assert item["rule"]["amount"] == "15.00"
    assert item["late_fee"]["daily_rate"] == "0.0005"

    # Tiered electricity: one row of fields per tier, a refusal beside the tier it names.
    await page.locator("#fee-items tr[data-code=ELEC] .edit-fee").click()
    await expect(form.locator('[name="rule.tiers[2].price"]')).to_have_value("0.8283")
    await expect(form.locator('[name="rule.tiers[2].upto"]')).to_have_value("")
    await expect(form).not_to_contain_text("upto")
    await form.locator('[name="rule.tiers[1].upto"]').fill("150")
    await page.click("#save-fee")
    await expect(form.locator('label:has([name="rule.tiers[1].upto"]) + .field-error')
                 ).to_contain_text("须大于上一档的上限 200")
    await form.locator('[name="rule.tiers[1].upto"]').fill("450")
    await page.click("#save-fee")
    await expect(form).to_be_hidden()
    tiers = (await _fee(staff, "ELEC"))["rule"]["tiers"]
    assert [t.get("upto") for t in tiers] == ["200", "450", None]


async def test_a_car_parks_tariff_is_edited_with_the_consoles_checks(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    await staff.api("PUT", "/api/sites/sunny/parking/tariffs/lot-main", TARIFF, expect=201)
    await browser_login(page, staff.url, "finance", PASSWORD, then="/billing/fee-items")
    row = page.locator("#tariffs tr[data-lot=lot-main]")
    await expect(row).to_contain_text("地面车场")
    await row.locator(".edit-tariff").click()
    form = page.locator("#tariff-form")
    await expect(form.locator("[name=rounding] option:checked")).to_have_text("到分")
    await expect(form).not_to_contain_text("free_minutes")  # words, not keys
    await form.locator("[name=free_minutes]").fill("2000")
    await page.click("#save-tariff")
    await expect(form.locator(".field-error")).to_contain_text("0 到 1440")
    await expect(form.locator("label:has([name=free_minutes]) + .field-error")).to_be_visible()

    await form.locator("[name=free_minutes]").fill("60")
    await form.locator('[name="prices.small.unit.price"]').fill("3")
    await page.locator("#save-tariff").dblclick()
    await expect(form).to_be_hidden()
    saved = (await staff.get("/api/sites/sunny/parking/tariffs/lot-main"))["tariff"]
    assert saved["free_minutes"] == 60
    assert saved["prices"]["small"]["unit"] == {"minutes": 60, "price": "3"}
    assert saved["timezone"] == "Asia/Shanghai"

    # A second car park starts from the standard tariff.
    await page.click("#new-tariff")
    await form.locator("[name=lot]").fill("lot-east")
    await form.locator("[name=name]").fill("东门地库")
    await form.locator('[name="prices.small.daily_cap"]').fill("30")
    await page.click("#save-tariff")
    await expect(page.locator("#tariffs tr[data-lot=lot-east]")).to_contain_text("东门地库")
    east = (await staff.get("/api/sites/sunny/parking/tariffs/lot-east"))["tariff"]
    assert (east["name"], east["prices"]["small"]["daily_cap"]) == ("东门地库", "30")
