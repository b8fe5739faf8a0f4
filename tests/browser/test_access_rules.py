"""时段 and 门禁组 on the 门禁 page in a real Chromium (PostgreSQL): customer service creates a
time profile whose overlapping windows are refused beside the window the API names, then a
valid one; creates an access group; and issues a card with the group and the profile. Every
effect is checked through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import checked_page, raw_codes
from tests.support.auth import browser_login
from tests.support.staff_console import PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

SITE = "sunny"
ACCESS = f"/api/sites/{SITE}/access"


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with checked_page(browser, width=1920, height=1080) as p:
        yield p


async def test_a_profile_and_a_group_are_made_and_a_card_issued_with_both(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    await browser_login(page, staff.url, "customer-service", PASSWORD,
                        then="/access?tab=profiles")
    await expect(page.locator("#tab-profiles")).to_have_attribute("aria-selected", "true")
    form = page.locator("#profile-form")
    await form.locator("input[name=name]").fill("day")
    first = form.locator(".window").nth(0)
    for day in ("一", "二", "三", "四", "五"):
        await first.get_by_label(day, exact=True).check()
    await first.locator(".w-from").fill("07:00")
    await first.locator(".w-to").fill("12:00")
    await page.click("#profile-add")
    second = form.locator(".window").nth(1)
    await second.get_by_label("一", exact=True).check()
    await second.locator(".w-from").fill("11:00")
    await second.locator(".w-to").fill("13:00")
    await page.click("#profile-save")
    error = form.locator('[data-field="windows[1]"] + .field-error')
    await expect(error).to_contain_text("与第 1 个时段重叠")
    assert (await staff.get(f"{ACCESS}/profiles"))["profiles"] == []

    # The clerk moves the second window to the weekend night; it now stands.
    await second.get_by_label("一", exact=True).uncheck()
    for day in ("六", "日"):
        await second.get_by_label(day, exact=True).check()
    await second.locator(".w-from").fill("22:00")
    await second.locator(".w-to").fill("06:00")
    await page.click("#profile-save")
    await expect(page.locator('#profiles tr[data-profile="day"]')).to_contain_text("周六")
    await expect(form.locator(".field-error")).to_have_count(0)
    windows = [{"days": [1, 2, 3, 4, 5], "from": "07:00", "to": "12:00"},
               {"days": [6, 7], "from": "22:00", "to": "06:00"}]
    assert (await staff.get(f"{ACCESS}/profiles"))["profiles"] == [
        {"name": "day", "windows": windows}]
    # 编辑 brings the saved profile back into the form, both windows.
    saved = page.locator('#profiles tr[data-profile="day"]')
    await saved.get_by_role("button", name="编辑").click()
    await expect(form.locator("input[name=name]")).to_have_value("day")
    await expect(form.locator(".window")).to_have_count(2)

    await page.click("#tab-groups")
    group = page.locator("#group-form")
    await group.locator("input[name=name]").fill("b1")
    await group.locator("input[name=zh]").fill("1 栋")
    await group.locator("input[name=doors]").fill("1号楼大堂，地库门")
    await page.click("#group-save")
    await expect(page.locator('#groups tr[data-group="b1"]')).to_contain_text("1号楼大堂、地库门")
    assert (await staff.get(f"{ACCESS}/groups"))["groups"] == [
        {"name": "b1", "zh": "1 栋", "doors": ["1号楼大堂", "地库门"]}]
    await group.locator("input[name=name]").fill("")
    await page.locator('#groups tr[data-group="b1"]').get_by_role("button", name="编辑").click()
    await expect(group.locator("input[name=name]")).to_have_value("b1")
    await expect(group.locator("input[name=zh]")).to_have_value("1 栋")

    await page.click("#tab-cards")
    card_form = page.locator("#card-form")
    await card_form.get_by_label("员工", exact=True).check()
    await card_form.locator("input[name=staff_name]").fill("保洁张兰")
    await card_form.locator("input[name=number]").fill("7700001")
    await card_form.locator("select[name=profile]").select_option("day")
    await card_form.get_by_label("1 栋（b1）").check()
    await expect(page.locator("#card-all-doors")).not_to_be_checked()
    await page.click("#card-issue")
    row = page.locator('#cards tr[data-card="7700001"]')
    await expect(row).to_contain_text("门禁组：b1")
    [card] = (await staff.get(f"{ACCESS}/cards"))["cards"]
    assert (card["holder"], card["doors"], card["groups"], card["profile"]) == (
        "staff:保洁张兰", [], ["b1"], "day")
    assert await raw_codes(page) == []
