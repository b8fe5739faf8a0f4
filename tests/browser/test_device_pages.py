"""The device page in a real Chromium against the real console (PostgreSQL).

阳光花园's edge reports through the real ingest path: a meter reading, two barriers (one then
offline), a plate camera, a door controller naming its door, an elevator and a fire panel's
transmission device. The page lists them by family, each online / offline, and filters by
state. An administrator opens a barrier from its panel through a console whose command link
runs on a real Mosquitto with the production ACL: the command reaches the site's ``down/cmd``
with the administrator as issuer, the page shows 已下发 and then, when the test answers as the
site's edge (its own credential, ``up/cmd-reply``), 已执行. A technician sees the device and
its events but no command button, and a forged POST from its browser session is refused
403. A console without a broker says so when a command is confirmed. No raw code on screen.

``COURTYARD_SCREENSHOTS=1`` saves the page with a barrier's panel at 1920×1080 to
docs/screenshots/devices-1920.png.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import aiomqtt

from contract import topics
from contract.commands import CommandResult
from tests.browser.command_rig import (
    SITE,
    SITE_SECRET,
    Rig,
    next_commands,
)
from tests.browser.conftest import checked_page, raw_codes
from tests.browser.test_guard_board import SHOTS, Edge
from tests.support.auth import browser_login
from tests.support.staff_console import DISPLAY_NAMES, PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

MAX_SHOT_BYTES = 200_000
PAGE = f"/devices?site={SITE}"
#: What ``report`` sends: device → the family the page groups it under.
REPORTED = {"meter-1": "meter", "gate-in-1": "gate", "gate-out-1": "gate", "cam-in-1": "camera",
            "ctl-1": "access", "lift-1": "elevator", "uitd-1": "fire"}


async def report(staff: StaffConsole) -> None:
    """阳光花园's devices as its edge reports them (one batch, then the barrier going away)."""
    edge = Edge(staff.sessions, SITE)
    await edge.send(
        edge.event("meter.reading", {"v": 1, "values": {"energy_import_kwh": 1234.5},
                                     "profile": "ddsu666", "unit": "1-101"}, device="meter-1"),
        edge.event("gate.opened", {
            "v": 1, "gate": "gate-in-1", "lane": "in", "cause": "plate", "by": None,
            "reason": None, "plate": "沪A12345", "session": None, "transport": "modbus"},
            device="gate-in-1"),
        edge.event("gate.closed", {"v": 1, "gate": "gate-out-1", "lane": "out",
                                   "cause": "timer", "transport": "modbus"},
                   device="gate-out-1"),
        edge.event("camera.recovered", {"v": 1, "message": "相机画面恢复 / camera recovered"},
                   device="cam-in-1"),
        edge.event("door.opened", {"v": 1, "controller": 423187757, "index": 7,
                                   "door": "east-door", "message": "门已打开 / door opened"},
                   device="ctl-1"),
        edge.event("elevator.state", {"v": 1, "building": "1栋", "name": "1号梯", "floor": 3,
                                      "message": "电梯运行 / elevator running"},
                   device="lift-1"),
        edge.event("uitd.status", {"v": 1, "uitd": "uitd-1", "message": "传输装置正常 / ok"},
                   device="uitd-1"))
    await edge.send(edge.event("device.offline", {
        "v": 1, "reason": "timeout", "message": "道闸控制板无应答 / gate board silent"},
        device="gate-out-1"))


async def open_devices(page: Page, staff: StaffConsole, username: str) -> None:
    from playwright.async_api import expect

    await browser_login(page, staff.url, username, PASSWORD, then=PAGE)
    await expect(page.locator('tr.device[data-device="gate-in-1"]')).to_be_visible()


async def test_devices_are_listed_by_family_with_their_state(
        browser: Browser, staff: StaffConsole) -> None:
    from playwright.async_api import expect

    await report(staff)
    listed = (await staff.get(f"/api/sites/{SITE}/devices"))["devices"]
    families = {d["key"]: d["family"] for d in listed}
    assert families | REPORTED == families  # beside the register's meters (never reported)
    never = [d["key"] for d in listed if d["last_seen"] is None]
    assert never and all(families[k] == "meter" for k in never)
    async with checked_page(browser, 1920, 1080) as page:
        await page.clock.install()  # the page's 30 s refresh runs when the test says
        await open_devices(page, staff, "admin")
        group = page.locator('.family[data-family="gate"]')
        await expect(group.locator("h2")).to_contain_text("道闸")
        await expect(group.locator("tr.device")).to_have_count(2)
        await expect(group.locator('tr[data-device="gate-in-1"]')).to_contain_text("在线")
        await expect(group.locator('tr[data-device="gate-out-1"]')).to_contain_text("离线")
        for family, zh, key in (("meter", "表计", "meter-1"), ("camera", "车牌相机", "cam-in-1"),
                                ("access", "门禁", "ctl-1"), ("elevator", "电梯", "lift-1"),
                                ("fire", "消防主机", "uitd-1")):
            section = page.locator(f'.family[data-family="{family}"]')
            await expect(section.locator("h2")).to_contain_text(zh)
            await expect(section.locator(f'tr[data-device="{key}"]')).to_contain_text("在线")
        await expect(page.locator("#counts")).to_have_text(f"共 {len(listed)} 台，离线 1 台")
        # The register's many meters fold under their counts; the barriers' group is open.
        meters = page.locator('details.family[data-family="meter"]')
        await expect(meters).not_to_have_attribute("open", "")
        await expect(meters.locator("summary")).to_contain_text(f"{len(never) + 1} 台，在线 1")
        await expect(group).to_have_attribute("open", "")
        await meters.locator("summary").click()
        await expect(meters.locator('tr[data-device="meter-1"]')).to_be_visible()

        # The barrier comes back: the page says so at its next refresh, the meters still open.
        edge = Edge(staff.sessions, SITE)
        edge.seq = 8
        await edge.ingest("device.online", {"v": 1, "message": "恢复 / back"}, device="gate-out-1")
        await page.clock.run_for(31_000)
        await expect(group.locator('tr[data-device="gate-out-1"]')).to_contain_text("在线")
        await expect(page.locator("#counts")).to_have_text(f"共 {len(listed)} 台，离线 0 台")
        await expect(meters).to_have_attribute("open", "")
        await edge.ingest("device.offline", {"v": 1, "reason": "timeout", "message": "x / x"},
                          device="gate-out-1")
        await page.clock.run_for(31_000)
        await expect(page.locator("#counts")).to_have_text(f"共 {len(listed)} 台，离线 1 台")

        await page.select_option("#state", "offline")
        await expect(page.locator("tr.device")).to_have_count(1)
        await expect(page.locator("tr.device")).to_have_attribute("data-device", "gate-out-1")
        await page.select_option("#state", "never")
        await expect(page.locator("tr.device")).to_have_count(len(never))
        await expect(page.locator("tr.device").first).to_contain_text("未上报")
        await page.select_option("#state", "")
        await page.select_option("#family", "access")
        await expect(page.locator("tr.device")).to_have_count(1)
        await page.select_option("#family", "")

        # The controller's panel: its events as labels, a button per door it reported.
        await page.click('tr.device[data-device="ctl-1"]')
        detail = page.locator("#detail")
        await expect(detail.locator("#d-events tr")).to_have_count(1)
        await expect(detail.locator("#d-events")).to_contain_text("门已打开")
        for name in ("开门 east-door", "常开 east-door", "受控 east-door"):
            await expect(detail.get_by_role("button", name=name, exact=True)).to_be_visible()
        assert await raw_codes(page) == []

        # No broker behind this console: it says so, and a confirmed command says why not.
        await expect(page.locator("#channel")).to_contain_text("控制台未连接消息代理")
        await page.click('tr.device[data-device="gate-in-1"]')
        await detail.get_by_role("button", name="开闸 gate-in-1", exact=True).click()
        await detail.get_by_role("button", name="确认", exact=True).click()
        await expect(detail.locator(".cmd-error")).to_contain_text("控制台未连接消息代理")
        assert (await staff.get(f"/api/sites/{SITE}/commands"))["commands"] == []


async def test_a_technician_sees_devices_but_no_command_and_a_forged_one_is_refused(
        browser: Browser, staff: StaffConsole) -> None:
    from playwright.async_api import expect

    await report(staff)
    async with checked_page(browser, 1920, 1080) as page:
        await open_devices(page, staff, "technician")
        await page.click('tr.device[data-device="gate-in-1"]')
        await expect(page.locator("#d-events")).to_contain_text("道闸抬杆")
        assert await page.locator("button.cmd").count() == 0
        assert await page.locator("#site-commands").is_hidden()
        assert await raw_codes(page) == []
        status = await page.evaluate("""async () => {
            const me = await (await fetch('/api/me')).json();
            const resp = await fetch('/api/sites/sunny/commands', {
                method: 'POST', headers: {'Content-Type': 'application/json',
                                          'X-CSRF-Token': me.csrf_token},
                body: JSON.stringify({kind: 'gate.open', args: {gate: 'gate-in-1'}})});
            return [resp.status, (await resp.json()).error.code];
        }""")
        assert status == [403, "forbidden"]

        # In English the page reads in English.
        await page.evaluate("localStorage.setItem('cy.lang', 'en')")
        await page.reload()
        gates = page.locator('.family[data-family="gate"]')
        await expect(gates.locator("h2")).to_contain_text("Barrier gates")
        await expect(gates.locator('tr[data-device="gate-out-1"]')).to_contain_text("Offline")
        await page.click('tr.device[data-device="gate-in-1"]')
        await expect(page.locator("#d-events")).to_contain_text("Barrier opened")
    assert (await staff.get(f"/api/sites/{SITE}/commands"))["commands"] == []


async def test_an_admin_opens_a_barrier_and_follows_the_command_to_done(
        rig: Rig, browser: Browser) -> None:
    from playwright.async_api import expect

    staff = rig.staff
    await report(staff)
    async with aiomqtt.Client("127.0.0.1", rig.broker.port, username=SITE, password=SITE_SECRET,
                              identifier="edge-sunny-devices", timeout=5) as edge, \
            checked_page(browser, 1920, 1080) as page:
        await edge.subscribe(topics.down_filter(SITE), qos=1)
        await open_devices(page, staff, "admin")
        await expect(page.locator("#channel")).to_be_hidden()
        await page.click('tr.device[data-device="gate-in-1"]')
        detail = page.locator("#detail")
        open_gate = detail.get_by_role("button", name="开闸 gate-in-1", exact=True)
        await open_gate.click()
        await expect(detail.locator(".confirm")).to_contain_text("确认开闸 gate-in-1？")
        await detail.get_by_role("button", name="取消", exact=True).click()
        assert await next_commands(edge, 0.5) == []  # cancelled: nothing sent

        await open_gate.click()
        await detail.get_by_role("button", name="确认", exact=True).click()
        [sent] = await next_commands(edge, 3.0)
        assert (sent["kind"], sent["args"], sent["issued_by"]) == (
            "gate.open", {"gate": "gate-in-1"}, DISPLAY_NAMES["admin"])
        state = detail.locator('.cmd-item[data-kind="gate.open"] .cmd-state')
        await expect(state).to_have_text("已下发")
        await expect(open_gate).to_be_disabled()
        [stored] = (await staff.get(f"/api/sites/{SITE}/commands"))["commands"]
        assert (stored["cmd_id"], stored["issued_by"], stored["state"]) == (
            sent["cmd_id"], DISPLAY_NAMES["admin"], "sent")

        await rig.reply(sent["cmd_id"], CommandResult.OK, "道闸已开闸 / gate opened")
        await expect(state).to_have_text("已执行")
        await expect(open_gate).to_be_enabled()
        done = await staff.get(f"/api/sites/{SITE}/commands/{stored['id']}")
        assert (done["state"], done["result"], done["issued_by"]) == (
            "done", "ok", DISPLAY_NAMES["admin"])

        # A refusal shows the edge's reason.
        close = detail.get_by_role("button", name="落闸 gate-in-1", exact=True)
        await close.click()
        await detail.get_by_role("button", name="确认", exact=True).click()
        [lower] = await next_commands(edge, 3.0)
        await rig.reply(lower["cmd_id"], CommandResult.REFUSED, "地感有车 / vehicle on the loop")
        await expect(detail.locator('.cmd-item[data-kind="gate.close"] .cmd-state')).to_have_text(
            "被拒绝（地感有车）")
        assert await raw_codes(page) == []
        if os.environ.get("COURTYARD_SCREENSHOTS") == "1":
            SHOTS.mkdir(parents=True, exist_ok=True)
            path = SHOTS / "devices-1920.png"
            await page.screenshot(path=str(path))
            assert path.stat().st_size < MAX_SHOT_BYTES, path.stat().st_size
