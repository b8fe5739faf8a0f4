"""A real Chromium driven through Playwright (Debian's ``/usr/bin/chromium``).

``scripts/bootstrap.sh --test`` installs both; ``playwright install`` (which downloads its own
browser build) is never used. Locally a missing browser skips these tests with the reason; in
CI (``CI=true``) it fails them, like every other missing service.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cloud.web.labels import LABELS
from tests.browser.command_rig import Rig, command_rig
from tests.support.services import fresh_pg_database, need
from tests.support.staff_console import StaffConsole, staff_console

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = Path(os.environ.get("COURTYARD_CHROMIUM", "/usr/bin/chromium"))
INSTALL_HINT = "scripts/bootstrap.sh --test installs it"


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, or skip (fail in CI) saying how to install it."""
    need(CHROMIUM.is_file(), f"Chromium at {CHROMIUM} ({INSTALL_HINT}: apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        need(False, f"Python package playwright ({INSTALL_HINT})")
        raise
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(chromium),
                                          args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def checked_page(browser: Browser, width: int = 1280,
                       height: int = 720) -> AsyncIterator[Page]:
    """A zh-CN page in the site's time zone that fails the test on any script error."""
    context = await browser.new_context(viewport={"width": width, "height": height},
                                        locale="zh-CN", timezone_id="Asia/Shanghai")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture
async def staff() -> AsyncIterator[StaffConsole]:
    """The console on PostgreSQL with 阳光花园 and one login per role
    (tests/support/staff_console.py). One engine: the pages are what is under test here; both
    engines are covered by the API tests."""
    with fresh_pg_database(migrated=True) as url:
        async with staff_console(url) as console:
            yield console


#: Every stored code of the label table as a whole word (``meter-1`` is a device's name and
#: ``in`` inside ``main`` is not a code): none may reach the screen.
RAW_CODE = re.compile(r"(?<![\w.-])(" + "|".join(sorted(
    {re.escape(code) for table in LABELS.values() for code in table}, key=len, reverse=True))
    + r")(?![\w.-])")


async def raw_codes(page: Page, selector: str = ".cy-page") -> list[str]:
    """The label table's codes showing in the page's content (the shell's frame excluded)."""
    return sorted(set(RAW_CODE.findall(await page.inner_text(selector))))


@pytest.fixture
async def rig(chromium: Path) -> AsyncIterator[Rig]:
    """A console whose command link is on a real Mosquitto (``command_rig``)."""
    async with command_rig() as r:
        yield r


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A 1920×1080 page (a desk screen) that fails the test on a console error (a test file
    may define its own)."""
    async with checked_page(browser, width=1920, height=1080) as p:
        yield p


@pytest.fixture
async def signing() -> AsyncIterator[StaffConsole]:
    """The staff console with the command rig's site secret (visitor passes and checkpoint
    stickers are signed with it)."""
    from aiohttp import web

    from cloud.web.keys import SITE_CREDENTIALS
    from tests.browser.command_rig import SITE, SITE_SECRET

    def secret(app: web.Application) -> None:
        app[SITE_CREDENTIALS] = {SITE: SITE_SECRET}

    with fresh_pg_database(migrated=True) as url:
        async with staff_console(url, setup=secret) as console:
            yield console


SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def shoot(page: Page, name: str, *, max_bytes: int, full_page: bool = False) -> None:
    """With COURTYARD_SCREENSHOTS=1, the page for docs/console.md (kept small)."""
    if os.environ.get("COURTYARD_SCREENSHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    await page.screenshot(path=str(path), type="png", full_page=full_page)
    assert path.stat().st_size < max_bytes, (name, path.stat().st_size)
