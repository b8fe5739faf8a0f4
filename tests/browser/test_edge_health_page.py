"""The device page shows the site's edge health report in a real Chromium against the real
console (PostgreSQL): how many events the edge still holds and how old the oldest is, and,
when the site goes offline, that the report no longer describes the edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cloud.features import default_registry
from cloud.ingest import Ingestor
from contract import SystemClock, topics
from contract.health import DeviceCount, Health, OutboxHealth, encode_health
from tests.browser.command_rig import SITE
from tests.browser.conftest import checked_page, raw_codes
from tests.browser.test_device_pages import open_devices, report
from tests.support.staff_console import StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser


async def test_the_device_page_shows_what_the_edge_still_holds(
        browser: Browser, staff: StaffConsole) -> None:
    from playwright.async_api import expect

    await report(staff)
    ingestor = Ingestor(staff.sessions, SystemClock(), default_registry())
    await ingestor.handle_status(topics.up_status(SITE), b"online")
    now = datetime.now(UTC)
    health = Health(ts=now, outbox=OutboxHealth(depth=12, oldest_ts=now - timedelta(seconds=20),
                                                oldest_age_s=20.0),
                    devices={"meter": DeviceCount(1, 2)}, uptime_s=60.0, version="1.0")
    assert (await ingestor.handle_health(topics.up_health(SITE), encode_health(health))).ok
    async with checked_page(browser) as page:
        await page.clock.install()  # the page's 30 s refresh runs when the test says
        await open_devices(page, staff, "admin")
        edge = page.locator("#edge")
        await expect(edge).to_contain_text("边缘网关：待上传 12 条，最早 20 秒前")
        await expect(edge).not_to_contain_text("过期")
        assert await raw_codes(page) == []
        # The site's Last Will fires: at the next refresh the numbers are marked stale.
        await ingestor.handle_status(topics.up_status(SITE), b"offline")
        await page.clock.run_for(31_000)
        await expect(edge).to_contain_text("报告已过期")
        await expect(edge).to_have_class("note stale")
