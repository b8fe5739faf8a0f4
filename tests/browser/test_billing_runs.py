"""The bill-run page and the cashier's desk in a real Chromium against the real console: a
finance clerk logged in through /login starts the month's run with 出账 and releases the held
bill with 放行 (the page must send the session's CSRF token), and a double-click on 确认收款
books one payment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.payments.tables import Payment
from cloud.settings import Settings
from contract import SystemClock
from tests.billing.conftest import load_sample
from tests.browser.conftest import checked_page
from tests.support.auth import browser_login, create_staff, token_headers
from tests.support.services import free_port

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page


class Console:
    def __init__(self, url: str, headers: dict[str, str],
                 sessions: async_sessionmaker[AsyncSession]) -> None:
        self.url = url
        self.headers = headers
        self.sessions = sessions

    async def get(self, path: str) -> Any:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5),
                                         headers=self.headers) as s, \
                s.get(self.url + path) as resp:
            assert resp.status == 200, (resp.status, await resp.text())
            return await resp.json()


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    await load_sample(sessions)
    await create_staff(sessions, "caiwu", "page-password", "finance")
    url = f"http://127.0.0.1:{free_port()}"
    runner = web.AppRunner(create_app(Settings(database_url=db_url), sessions, SystemClock()),
                           access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(url.rsplit(":", 1)[1])).start()
    try:
        yield Console(url, await token_headers(sessions, "finance"), sessions)
    finally:
        await runner.cleanup()
        await engine.dispose()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with checked_page(browser, width=1920, height=1080) as p:
        yield p


async def test_a_clerk_runs_the_month_and_releases_the_held_bill_from_the_page(
        console: Console, page: Page) -> None:
    from playwright.async_api import expect

    await browser_login(page, console.url, "caiwu", "page-password",
                        then="/billing/runs?site=sunny")
    await page.fill("#period", "2026-11")
    await page.click("#start")
    # The page polls the run and reloads when it is done: the held bill then waits below.
    held = page.locator("#held tr[data-bill]")
    await expect(held).to_have_count(1, timeout=30_000)
    await expect(page.locator("#error")).to_be_hidden()
    runs = await console.get("/api/bill-runs?site=sunny")
    [run] = [r for r in runs["bill_runs"] if r["period"] == "2026-11"]
    assert (run["state"], run["bills"], run["held"]) == ("done", 10, 1)

    await held.locator(".note").fill("抄表员核实，读数无误")
    await held.locator("button.release").click()
    await expect(held).to_have_count(0)
    await expect(page.locator("#error")).to_be_hidden()
    left = await console.get("/api/bills?site=sunny&state=held")
    assert left["count"] == 0


async def test_a_double_click_on_take_payment_takes_one_payment(
        console: Console, page: Page) -> None:
    from playwright.async_api import expect

    await browser_login(page, console.url, "caiwu", "page-password",
                        then="/billing/runs?site=sunny")
    await page.fill("#period", "2026-11")
    await page.click("#start")
    await expect(page.locator("#held tr[data-bill]")).to_have_count(1, timeout=30_000)
    bills = await console.get("/api/bills?site=sunny&state=open")
    unit = bills["bills"][0]["unit"]

    before = await _payments(console)
    await page.goto(f"{console.url}/finance?site=sunny")
    # 小区 is chosen by its name; the slug stays behind the option.
    await expect(page.locator("#site")).to_have_value("sunny")
    await expect(page.locator("#site option:checked")).to_have_text("阳光花园")
    await page.fill("#unit", unit)
    await page.click("#lookup button[type=submit]")
    await expect(page.locator("#acc-unit")).to_have_text(unit)
    await page.fill("#amount", "10.00")
    await page.locator("#pay button[type=submit]").dblclick()
    await expect(page.locator("#message")).to_contain_text("收款成功")
    await expect(page.locator("#pay button[type=submit]")).to_be_enabled()
    receipt = await page.locator("#receipt-link a").text_content()
    assert receipt is not None and "打印收据" in receipt
    assert (await _payments(console))[len(before):] == ["10.00"], (
        "a double-click booked the payment twice")

    # The next payment is a new one (a new key), and goes through as a second payment.
    await page.fill("#amount", "5.00")
    await page.locator("#pay button[type=submit]").click()
    await expect(page.locator("#message")).to_contain_text("5.00")
    assert (await _payments(console))[len(before):] == ["10.00", "5.00"]


async def _payments(console: Console) -> list[str]:
    async with console.sessions() as session:
        amounts = (await session.execute(select(Payment.amount).order_by(Payment.id))
                   ).scalars().all()
    return [str(a) for a in amounts]
