"""The register page in a real Chromium as the customer-service login: a unit of 阳光花园
edited through its form (codes as choices, a refusal next to its field with nothing lost) and
its history read under the form; an owner and a vehicle added and the owner edited. Every
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


async def _unit(staff: StaffConsole, code: str) -> dict[str, object]:
    [unit] = (await staff.get(f"/api/units?site=sunny&q={code}"))["units"]
    return unit  # type: ignore[no-any-return]


async def test_a_clerk_edits_a_unit_adds_an_owner_and_reads_the_history(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    await browser_login(page, staff.url, "customer-service", PASSWORD, then="/records")
    await expect(page.locator("#cy-site option:checked")).to_have_text("阳光花园")
    me_name = (await page.locator(".cy-who b").text_content() or "").strip()
    assert me_name
    row = page.locator('#units tr[data-unit="1-201"]')
    await expect(row).to_contain_text("空置")
    await expect(page.locator("#units")).not_to_contain_text("residential")
    await row.click()
    editor = page.locator("#unit-editor")
    await expect(editor.locator("h3")).to_contain_text("1-201")
    # Type and status are choices from the label table, not free text.
    await expect(editor.locator("select[name=unit_type] option")).to_have_count(5)
    await expect(editor.locator("select[name=unit_type] option:checked")).to_have_text("住宅")

    # A refusal names its field; what was typed stays.
    await editor.locator("input[name=area]").fill("0")
    await editor.locator("select[name=status]").select_option("occupied")
    await editor.locator("button.save").click()
    await expect(editor.locator(".field-error")).to_contain_text("须大于 0")
    await expect(editor.locator("input[name=area]")).to_have_value("0")
    await expect(editor.locator("select[name=status]")).to_have_value("occupied")
    assert (await _unit(staff, "1-201"))["status"] == "vacant"

    await editor.locator("input[name=area]").fill("90.00")
    await editor.locator("button.save").dblclick()
    history = editor.locator("table.history tr[data-history]")
    await expect(history).to_have_count(1)
    await expect(history.first).to_contain_text("修改")
    await expect(history.first).to_contain_text("状态：空置 → 自住")
    await expect(history.first).to_contain_text("建筑面积：89.50 → 90.00")
    await expect(history.first).to_contain_text(me_name)  # the login, as the shell names it
    when = await history.first.locator("td").first.text_content()
    assert when and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", when), when
    unit = await _unit(staff, "1-201")
    assert (unit["status"], unit["area"]) == ("occupied", "90.00")
    audit = (await staff.get(f"/api/units/{unit['id']}/history"))["history"]
    assert [h["action"] for h in audit] == ["update"], "a double-click saved twice"
    await expect(row).to_contain_text("自住")

    # A new owner for the unit: created, listed, and her form shows its history.
    await page.click("#new-resident")
    form = page.locator("#resident-editor")
    await expect(form.locator("select[name=role] option:checked")).to_have_text("业主")
    await form.locator("input[name=name]").fill("周敏")
    await form.locator("input[name=phone]").fill("13500001234")
    await form.locator("input[name=move_in]").fill("2026-11-01")
    await form.locator("button.save").click()
    await expect(page.locator("#residents")).to_contain_text("周敏")
    await expect(form.locator("table.history")).to_contain_text("新建")
    [owner] = (await staff.get("/api/owners?site=sunny&unit=1-201"))["owners"]
    assert (owner["name"], owner["phone"], owner["move_in"]) == ("周敏", "13500001234",
                                                                 "2026-11-01")

    # Her phone changes; the change is in her history.
    await page.locator(f'#residents tr[data-resident="{owner["id"]}"] button.edit').click()
    await form.locator("input[name=phone]").fill("13500009999")
    await form.locator("button.save").click()
    await expect(form.locator("table.history")).to_contain_text(
        "电话：13500001234 → 13500009999")
    assert (await staff.get(f"/api/owners/{owner['id']}"))["phone"] == "13500009999"

    # A vehicle for the household.
    await page.click("#new-vehicle")
    car = page.locator("#vehicle-editor")
    await car.locator("input[name=plate]").fill("粤B55555")
    await car.locator("input[name=holder]").fill("周敏")
    await car.locator("button.save").click()
    await expect(page.locator("#vehicles")).to_contain_text("粤B55555")
    [vehicle] = (await staff.get("/api/vehicles?site=sunny&unit=1-201"))["vehicles"]
    assert (vehicle["plate"], vehicle["holder"], vehicle["role"]) == ("粤B55555", "周敏",
                                                                      "owner")


async def test_a_new_unit_is_created_with_its_type_chosen(staff: StaffConsole,
                                                          page: Page) -> None:
    from playwright.async_api import expect

    await browser_login(page, staff.url, "admin", PASSWORD, then="/records?site=sunny")
    await expect(page.locator("#units tr.unit")).to_have_count(10)
    await page.click("#new-unit")
    editor = page.locator("#unit-editor")
    await editor.locator("input[name=code]").fill("3-S02")
    await editor.locator("input[name=building]").fill("B3")
    await editor.locator("input[name=area]").fill("45.5")
    await editor.locator("select[name=unit_type]").select_option(label="商铺")
    await editor.locator("button.save").click()
    await expect(page.locator('#units tr[data-unit="3-S02"]')).to_contain_text("商铺")
    await expect(editor.locator("table.history")).to_contain_text("新建")
    unit = await _unit(staff, "3-S02")
    assert (unit["unit_type"], unit["area"], unit["status"]) == ("commercial", "45.50",
                                                                 "vacant")
