"""The schedules page (计划任务) in a real Chromium: the finance login opens it from the menu,
adds the monthly bill run, changes its time (a wrong time is named beside the field, nothing
saved), and sees the saved time and the next run; a bill run started through the API shows as
a finished job with its progress. Every effect is checked through the API."""

from __future__ import annotations

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
    async with checked_page(browser, width=1600, height=1000) as p:
        yield p


async def test_finance_edits_a_schedules_time_and_sees_it_saved(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    await browser_login(page, staff.url, "finance", PASSWORD, then="/finance?site=sunny")
    await page.click('.cy-menu a[href="/schedules"]')
    rows = page.locator("#schedules tr[data-schedule]")
    await expect(page.locator("#schedules")).to_contain_text("尚无计划任务")
    await page.select_option("#add-kind", "bill_run")
    await page.click("#add")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("出账")
    await expect(rows.first.locator("td.when")).to_have_text("每月 1 日 02:00")

    await rows.first.locator("button.edit").click()
    await page.fill("#edit-time", "25:00")
    await page.click("#save")
    await expect(page.locator("#edit-form .field-error")).to_contain_text("HH:MM")
    [saved] = (await staff.get("/api/schedules?site=sunny"))["schedules"]
    assert saved["spec"]["time"] == "02:00"  # nothing saved

    await page.fill("#edit-time", "06:30")
    await page.fill("#edit-day", "5")
    await page.click("#save")
    await expect(page.locator("#edit-card")).to_be_hidden()
    await expect(rows.first.locator("td.when")).to_have_text("每月 5 日 06:30")
    [saved] = (await staff.get("/api/schedules?site=sunny"))["schedules"]
    assert saved["spec"] == {"time": "06:30", "day_of_month": 5, "cycle": "monthly"}
    assert saved["updated_by"].startswith("user:")
    # the next run is shown in the site's time
    await expect(rows.first.locator("td.next")).to_contain_text("05 06:30")

    # a bill run is a job: once finished it is listed with its progress
    await staff.api("POST", "/api/bill-runs", {"site": "sunny", "period": "2026-11"},
                    expect=202)
    jobs = page.locator("#jobs tr[data-job]")
    await page.reload()
    await expect(jobs.first).to_contain_text("已完成", timeout=30_000)
    await expect(jobs.first).to_contain_text("10/10 户")
