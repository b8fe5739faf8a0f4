"""The register pages in a real Chromium, logged in through /login (cookie + CSRF): an
installer checks a units sheet with a bad row, sees the row, column and reason, fixes it and
imports it with the progress shown; the register page lists the units and a unit's owners
(masked for the installer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.settings import Settings
from contract import SystemClock
from tests.browser.conftest import browser, checked_page, chromium  # noqa: F401
from tests.support.auth import admin_headers, browser_login, create_staff
from tests.support.services import free_port

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

HEADER = "房号 unit_code,楼栋 building_code,建筑面积 area,状态 status\n"
ROWS = "".join(f"{b}-1-{r:03d},{b},{80 + r % 9}.5,occupied\n"
               for b in (1, 2) for r in range(1, 1101))


@pytest.fixture
async def console_url(sqlite_url: str) -> AsyncIterator[str]:
    await migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add(Site(slug="garden", name="花园小区"))
    await create_staff(sessions, "installer-1", "page-password", "installer", sites=["garden"])
    await create_staff(sessions, "kefu-1", "page-password", "customer_service", sites=["garden"])
    await admin_headers(sessions)
    url = f"http://127.0.0.1:{free_port()}"
    runner = web.AppRunner(create_app(Settings(database_url=sqlite_url), sessions,
                                      SystemClock()), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(url.rsplit(":", 1)[1])).start()
    try:
        yield url
    finally:
        await runner.cleanup()
        await engine.dispose()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:  # noqa: F811
    async with checked_page(browser) as p:
        yield p


async def test_installer_checks_then_imports_a_sheet_with_progress(
        console_url: str, page: Page, tmp_path: Path) -> None:
    from playwright.async_api import expect

    bad = tmp_path / "units-bad.csv"
    bad.write_text(HEADER + "1-1-001,1,0,occupied\n", encoding="utf-8")
    good = tmp_path / "units.csv"
    good.write_text(HEADER + ROWS, encoding="utf-8")  # 2,200 rows: a job with progress

    await browser_login(page, console_url, "installer-1", "page-password", then="/records/import")
    await expect(page.locator("#cy-site option")).to_have_count(1)
    await expect(page.locator("#tpl-xlsx")).to_have_attribute(
        "href", "/api/imports/templates/units.xlsx")
    await page.set_input_files("#file", str(bad))
    await page.click("#check")
    row = page.locator("#errors tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(0)).to_have_text("2")
    await expect(row.locator("td").nth(1)).to_have_text("建筑面积 area")
    await expect(row.locator("td").nth(2)).to_contain_text("须大于 0")
    await expect(page.locator("#apply")).to_be_disabled()

    await page.set_input_files("#file", str(good))
    await page.click("#check")
    await expect(page.locator("#summary")).to_contain_text("校验", timeout=30_000)
    await expect(page.locator("#summary")).to_contain_text("新建 2200")
    await expect(page.locator("#apply")).to_be_enabled()
    await page.click("#apply")
    await expect(page.locator("#summary")).to_contain_text("已导入", timeout=60_000)
    await expect(page.locator("#progress-text")).to_contain_text("2,200/2,200")

    await page.goto(f"{console_url}/records?site=garden")
    await expect(page.locator("#units tr")).to_have_count(100)
    await page.fill("#q", "2-1-1100")
    await page.click("#filters button[type=submit]")
    await expect(page.locator("#units tr")).to_have_count(1)
    await page.locator("#units tr").first.click()
    await expect(page.locator("#detail")).to_contain_text("业主与租户")
    await expect(page.locator("#detail")).to_contain_text("修改记录")


async def test_a_customer_service_clerk_gets_the_register_with_her_site_by_name(
        console_url: str, page: Page) -> None:
    """The clerk's role holds no devices.read: the site list must not come from the device
    API (it once showed a red devices.read error and an empty list)."""
    from playwright.async_api import expect

    await browser_login(page, console_url, "kefu-1", "page-password", then="/records")
    await expect(page.locator("#cy-site option")).to_have_count(1)
    await expect(page.locator("#cy-site option")).to_have_text("花园小区")
    await expect(page.locator("#units tr.empty")).to_contain_text("没有符合条件的房屋")
    await expect(page.locator(".form-error")).to_be_hidden()
