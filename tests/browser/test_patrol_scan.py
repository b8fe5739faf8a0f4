"""巡更打卡 on a phone in a real Chromium (PostgreSQL, the command link on a real Mosquitto):
the guard opens the printed sticker's URL, logs in, sees the site and checkpoint, taps 打卡
(the button is disabled while the request is out) and sees 已打卡; the scan is stored under the
guard's login and reaches the site's edge as one ``patrol.scan`` command. Offline, the scan is
kept on the phone (待上传 1) and sent with its original phone time once the phone is back. A
scan of a reissued sticker shows its flag in plain Chinese and is not forwarded."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import aiomqtt
import pytest
from aiohttp import web

from cloud.commands.link import CommandLink
from cloud.commands.routes import configure_commands
from cloud.mosquitto_acl import acl_text
from cloud.web.keys import SESSIONS, SITE_CREDENTIALS
from contract import SystemClock, topics
from tests.browser.command_rig import (
    CLOUD_PASSWORD,
    CLOUD_USER,
    SITE,
    SITE_SECRET,
    next_commands,
)
from tests.browser.conftest import checked_page
from tests.cloud.patrol.test_sticker import decode_sticker
from tests.support import services
from tests.support.staff_console import PASSWORD, StaffConsole, staff_console

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.async_api import Browser

P = f"/api/sites/{SITE}/patrol"


@asynccontextmanager
async def patrol_rig() -> AsyncIterator[tuple[StaffConsole, services.Mosquitto]]:
    """The staff console with its command link on a private broker and 阳光花园's secret (the
    stickers are signed with it)."""
    links: list[CommandLink] = []

    def wire(app: web.Application) -> None:
        link = CommandLink(broker.url, CLOUD_USER, CLOUD_PASSWORD, app[SESSIONS], SystemClock(),
                           max_backoff=1.0)
        configure_commands(app, link)
        app[SITE_CREDENTIALS] = {SITE: SITE_SECRET}
        links.append(link)

    with services.own_mosquitto(users={CLOUD_USER: CLOUD_PASSWORD, SITE: SITE_SECRET},
                                acl=acl_text([CLOUD_USER])) as broker, \
            services.fresh_pg_database(migrated=True) as url:
        async with staff_console(url, setup=wire) as staff:
            [link] = links
            task = asyncio.create_task(link.run())
            try:
                async with asyncio.timeout(10):
                    while not link.connected:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                yield staff, broker
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


async def printed_sticker_url(staff: StaffConsole) -> str:
    """A QR checkpoint on a route walked around the clock, and the URL its sticker holds."""
    await staff.api("POST", f"{P}/checkpoints", {"code": "cp-gate", "name": "北门岗亭",
                                                 "qr": True}, expect=201)
    await staff.api("POST", f"{P}/routes", {
        "code": "outer", "name": "外围", "points": [{"checkpoint": "cp-gate", "offset_s": 0}]},
        expect=201)
    await staff.api("POST", f"{P}/plans", {  # a round every 30 min, each window 37 min
        "code": "all-day", "name": "全天", "route": "outer", "start": "00:00", "end": "00:00",
        "every_s": 1800, "start_window_s": 1800}, expect=201)
    async with aiohttp.ClientSession(headers=staff.admin) as s, \
            s.get(f"{staff.url}{P}/checkpoints/cp-gate/sticker.svg") as resp:
        assert resp.status == 200
        svg = await resp.text()
    return decode_sticker(svg)


async def _scans(staff: StaffConsole) -> list[dict[str, Any]]:
    return list((await staff.get(f"{P}/scans"))["scans"])


@pytest.fixture
async def rig(chromium: Path) -> AsyncIterator[tuple[StaffConsole, services.Mosquitto]]:
    async with patrol_rig() as r:
        yield r


async def test_the_guard_scans_a_sticker_on_the_phone_and_the_edge_gets_it(
        rig: tuple[StaffConsole, services.Mosquitto], browser: Browser) -> None:
    from playwright.async_api import Route, expect

    staff, broker = rig
    url = await printed_sticker_url(staff)
    assert url.startswith(f"{staff.url}/m/patrol?t=cyq1.")
    async with aiomqtt.Client("127.0.0.1", broker.port, username=SITE, password=SITE_SECRET,
                              identifier="edge-sunny-patrol", timeout=5) as edge, \
            checked_page(browser, 390, 844) as page:
        await edge.subscribe(topics.down_filter(SITE), qos=1)
        await page.goto(url)  # the phone's camera opens the sticker's URL: log in first
        await expect(page).to_have_url(re.compile(r"/login\?next="))
        await page.fill("#username", "guard")
        await page.fill("#password", PASSWORD)
        async with page.expect_navigation():
            await page.click("#submit")
        assert parse_qs(urlsplit(page.url).query)["t"] == parse_qs(urlsplit(url).query)["t"]
        await expect(page.locator("#pm-site")).to_have_text("阳光花园")
        await expect(page.locator("#pm-cp")).to_contain_text("北门岗亭")
        button = page.locator("#pm-check")
        await expect(button).to_be_enabled()

        release = asyncio.Event()

        async def hold(route: Route) -> None:
            await release.wait()
            await route.continue_()

        await page.route("**/patrol/scans", hold)
        await button.click()
        await expect(button).to_be_disabled()  # one tap, one scan
        release.set()
        done = page.locator("#pm-done")
        await expect(done).to_contain_text("已打卡")
        await expect(done).to_contain_text("北门岗亭")
        await expect(page.locator(".pm-flags")).to_have_count(0)  # in a round window
        await page.unroute("**/patrol/scans")

        [scan] = await _scans(staff)
        assert (scan["guard"], scan["checkpoint"], scan["flags"]) == ("guard", "cp-gate", [])
        assert scan["forwarded"] is True and scan["command_id"] is not None
        [cmd] = await next_commands(edge, 3)
        assert (cmd["kind"], cmd["args"]["checkpoint"], cmd["args"]["guard"]) == (
            "patrol.scan", "cp-gate", "guard")
        assert cmd["args"]["scan"] == str(scan["id"])
        assert cmd["args"]["at"] == scan["phone_time"]

        # The sticker is reissued: a scan of this (now old) one says so in plain Chinese and
        # does not reach the edge.
        await staff.api("POST", f"{P}/checkpoints/cp-gate/sticker", {})
        await button.click()
        await expect(page.locator(".pm-flags")).to_contain_text("旧二维码")
        assert await next_commands(edge, 1) == []
        assert (await _scans(staff))[0]["flags"] == ["old_sticker"]

        # No signal in the basement: the scan waits on the phone with its own time.
        await page.context.set_offline(True)
        await button.click()
        pending = page.locator("#pm-pending")
        await expect(pending).to_contain_text("待上传 1")
        await expect(page.locator("#pm-error")).to_contain_text("网络不通")
        assert len(await _scans(staff)) == 2
        back = datetime.now(UTC)
        await page.context.set_offline(False)
        await expect(pending).to_be_hidden(timeout=30_000)
        later = await _scans(staff)
        assert len(later) == 3 and later[0]["guard"] == "guard"
        assert datetime.fromisoformat(later[0]["phone_time"].replace("Z", "+00:00")) < back
        assert later[0]["phone_time"] != later[1]["phone_time"]
