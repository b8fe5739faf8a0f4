"""Every role in a real Chromium: log in, land on its own home, find its menu (and only its
menu), open every page of it without a refusal or a raw code on screen, switch to English and
back, log out. With COURTYARD_SCREENSHOTS=1 it saves the homes no page test shows."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cloud.auth.nav import nav_for
from cloud.auth.roles import ROLE_HOME, ROLES
from cloud.web.labels import LABELS
from tests.browser.conftest import checked_page, raw_codes
from tests.support.staff_console import PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: Phones: the technician's and the guard's homes are also used at 390×844.
PHONE_ROLES = ("technician", "guard")
#: Homes whose page test does not already save a screenshot with work on it (the guard board
#: with a fire, 客服台 with a unit open, the cashier's desk, the work-order board and phone page
#: are saved by their own tests).
SHOT_ROLES = ("admin", "installer", "technician")

def username(role: str) -> str:
    return role.replace("_", "-")


async def page_ready(page: Page) -> None:
    """The shell has drawn the login's menu (the page's own data may still be loading)."""
    await page.wait_for_selector(".cy-menu a", state="attached")


async def login(page: Page, staff: StaffConsole, role: str) -> None:
    """Through /login with no page asked for: the role's home is where it lands."""
    await page.goto(f"{staff.url}/login")
    await page.fill("#username", username(role))
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation():
        await page.click("#submit")
    await page_ready(page)


@pytest.mark.parametrize("role", sorted(ROLES))
async def test_each_role_lands_home_and_works_through_its_menu(
        browser: Browser, staff: StaffConsole, role: str) -> None:
    from playwright.async_api import expect

    async with checked_page(browser, width=1920, height=1080) as page:
        await login(page, staff, role)
        assert page.url.split("?")[0] == staff.url + ROLE_HOME[role]
        menu = page.locator(".cy-menu a")
        await expect(menu).to_have_text([item["zh"] for item in nav_for(role)])
        await expect(page.locator(".cy-who")).to_contain_text(LABELS["role"][role][0])
        await expect(page.locator("#cy-site")).to_contain_text("阳光花园")
        if os.environ.get("COURTYARD_SCREENSHOTS") == "1" and role in SHOT_ROLES:
            await page.wait_for_load_state("networkidle")
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / f"home-{role}-1920.png"))
        for item in nav_for(role):
            await page.goto(staff.url + item["path"])
            await page_ready(page)
            await expect(page.locator(".cy-menu a[aria-current=page]")).to_have_text(item["zh"])
            assert await page.locator(".cy-error").count() == 0, item["path"]
            await page.wait_for_load_state("networkidle")
            assert await raw_codes(page) == [], f"raw codes on {item['path']} for {role}"

        # English is a switch: the menu reads English, and back.
        await page.click("#cy-lang")
        await expect(page.locator(".cy-menu a")).to_have_text(
            [item["en"] for item in nav_for(role)])
        await page.click("#cy-lang")
        await expect(page.locator(".cy-menu a").first).to_have_text(nav_for(role)[0]["zh"])

        await page.click("#cy-logout")
        await page.wait_for_url(re.compile(r"/login"))
        await page.goto(staff.url + ROLE_HOME[role])
        await page.wait_for_url(re.compile(r"/login\?next="))


@pytest.mark.parametrize("role", PHONE_ROLES)
async def test_the_phone_roles_home_fits_a_phone_with_the_menu_behind_a_button(
        browser: Browser, staff: StaffConsole, role: str) -> None:
    from playwright.async_api import expect

    async with checked_page(browser, width=390, height=844) as page:
        await login(page, staff, role)
        await expect(page.locator(".cy-nav")).to_be_hidden()
        await page.click(".cy-menu-toggle")
        await expect(page.locator(".cy-nav")).to_be_visible()
        await page.click(".cy-menu-close")
        await expect(page.locator(".cy-nav")).to_be_hidden()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{role}'s home scrolls sideways on a phone ({width}px)"
        await page.wait_for_load_state("networkidle")


async def test_the_overview_says_what_waits_for_people_in_each_community(
        browser: Browser, staff: StaffConsole) -> None:
    from playwright.async_api import expect

    await staff.api("POST", "/api/workorders", {
        "site": "sunny", "category": "public_area", "title": "2栋大堂灯不亮",
        "priority": "low"}, expect=201)
    async with checked_page(browser, width=1920, height=1080) as page:
        await login(page, staff, "admin")
        card = page.locator('.site[data-site-slug="sunny"]')
        await expect(card.locator("h2")).to_contain_text("阳光花园")
        await expect(card.locator("h2")).to_contain_text("未上报")  # no edge has reported
        waiting = card.locator(".waiting")
        await expect(waiting).to_contain_text("未处理报警 0")
        await expect(waiting).to_contain_text("未完成工单 1")
        await waiting.get_by_role("link", name="1").first.click()
        await page.wait_for_url(re.compile(r"/workorders/board\?site=sunny"))
