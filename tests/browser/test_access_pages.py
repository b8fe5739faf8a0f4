"""门禁 in a real Chromium (PostgreSQL): customer service issues a card to a resident found by
name and revokes it, a bad card number is refused beside its field, a visitor pass is issued
and its QR image shown; the access log shows granted and denied swipes sent through the real
ingest path (names masked for a role without personal data, 更多 pages on); and the guard's
door view highlights a forced door and sends 开门 through the command channel (with a real
broker the command reaches the site as the guard's; without one the page says no_channel).
Every effect is checked through the API."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import aiomqtt

from contract import topics
from contract.commands import CommandResult
from tests.browser.command_rig import SITE_SECRET, Rig, next_commands
from tests.browser.conftest import checked_page, raw_codes, shoot
from tests.browser.test_guard_board import Edge, guard_name
from tests.support.auth import browser_login
from tests.support.staff_console import PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

SITE = "sunny"
CARDS = f"/api/sites/{SITE}/access/cards"
PASSES = f"/api/sites/{SITE}/access/passes"
MAX_SHOT_BYTES = 200_000
DOOR = "east-gate"






async def owner(staff: StaffConsole, unit: str = "1-101", name: str = "王秀英") -> int:
    made = await staff.api("POST", "/api/owners", {"site": SITE, "unit": unit, "name": name,
                                                   "phone": "13900002468"}, expect=201)
    return int(made["id"])


async def test_customer_service_issues_a_card_to_a_resident_found_by_name_and_revokes_it(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    rid = await owner(staff)
    await staff.api("POST", CARDS, {"number": "4400001", "staff_name": "保安李强",
                                    "doors": ["1号楼大堂", "地库门"], "valid_to": "2027-06-30"},
                    expect=201)
    await browser_login(page, staff.url, "customer-service", PASSWORD, then="/access")
    await expect(page.locator('.cy-menu a[aria-current="page"]')).to_have_text("门禁")
    await expect(page.locator("#tab-cards")).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#tab-log")).to_be_hidden()  # no devices.read: not offered
    form = page.locator("#card-form")

    await page.fill("#card-q", "王秀英")
    await page.click("#card-find")
    await expect(page.locator("#card-chosen")).to_contain_text("王秀英（1-101）")

    # A number that is not one is refused beside the field; what was typed stays.
    await form.locator("input[name=number]").fill("12ab")
    await page.click("#card-issue")
    error = form.locator(".field-error")
    await expect(error).to_contain_text("卡号须为")
    await expect(form.locator("label.has-error input[name=number]")).to_have_value("12ab")
    assert [c["number"] for c in (await staff.get(CARDS))["cards"]] == ["4400001"]

    await form.locator("input[name=number]").fill("12345678")
    await page.click("#card-issue")
    row = page.locator('#cards tr[data-card="12345678"]')
    await expect(row).to_contain_text("王秀英（1-101）")
    await expect(row).to_contain_text("有效")
    await expect(row).to_contain_text("全部门")
    await expect(form.locator(".field-error")).to_have_count(0)
    card, _ = (await staff.get(CARDS))["cards"]
    assert (card["number"], card["holder"], card["doors"], card["state"]) == (
        "12345678", f"resident-{rid}", ["*"], "active")
    await expect(page.locator('#cards tr[data-card="4400001"]')).to_contain_text(
        "员工 保安李强")
    assert await raw_codes(page) == []
    await page.fill("#card-q", "王秀英")  # as the clerk finds the next resident
    await page.click("#card-find")
    await expect(page.locator("#card-chosen")).to_contain_text("王秀英（1-101）")
    await shoot(page, "access-1920.png", max_bytes=MAX_SHOT_BYTES)

    # Revoking asks for the reason first.
    await row.get_by_role("button", name="注销").click()
    await row.get_by_role("button", name="确认注销").click()
    await expect(row.locator(".field-error")).to_contain_text("请填写注销原因")
    await row.locator("input[name=reason]").fill("住户挂失")
    await row.get_by_role("button", name="确认注销").click()
    await expect(page.locator('#cards tr[data-card="12345678"]')).to_have_count(0)
    card, _ = (await staff.get(CARDS))["cards"]
    assert (card["state"], card["revoked_reason"]) == ("revoked", "住户挂失")
    await page.select_option("#card-state", "revoked")
    await expect(page.locator('#cards tr[data-card="12345678"]')).to_contain_text("已注销")
    assert await raw_codes(page) == []


async def test_a_visitor_pass_is_issued_and_its_qr_image_shown(
        signing: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    staff = signing

    await browser_login(page, staff.url, "customer-service", PASSWORD, then="/access?tab=passes")
    await expect(page.locator("#tab-passes")).to_have_attribute("aria-selected", "true")
    form = page.locator(".pass-form")
    await form.locator("input[name=visitor_name]").fill("李访客")
    await form.locator("input[name=unit]").fill("1-101")
    await form.locator(".pass-issue").click()
    result = page.locator(".pass-result")
    await expect(result).to_be_visible()
    await expect(result).to_contain_text("李访客 → 1-101")
    qr = result.locator("img.qr")
    await expect(qr).to_be_visible()
    await page.wait_for_function(
        "() => { const i = document.querySelector('.pass-result img.qr');"
        " return i && i.complete && i.naturalWidth > 0; }")
    box = await qr.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    [made] = (await staff.get(PASSES))["passes"]
    await expect(result.locator(".pass-code b")).to_have_text(str(made["code"]))
    assert (made["visitor_name"], made["unit"], made["state"]) == ("李访客", "1-101", "active")
    await expect(page.locator(f'.passes tr[data-pass="{made["id"]}"]')).to_contain_text("李访客")
    await expect(result.get_by_role("button", name="打印")).to_be_visible()
    assert await raw_codes(page) == []
    # 注销: the reason is required, then the pass leaves the edge's dataset.
    row = page.locator(f'.passes tr[data-pass="{made["id"]}"]')
    await row.get_by_role("button", name="注销").click()
    await row.get_by_role("button", name="确认注销").click()
    await expect(row.locator(".field-error")).to_contain_text("请填写注销原因")
    await row.locator("input[name=reason]").fill("访客取消来访")
    await row.get_by_role("button", name="确认注销").click()
    await expect(page.locator(f'.passes tr.active[data-pass="{made["id"]}"]')).to_have_count(0)
    [gone] = (await staff.get(f"{PASSES}?state=revoked"))["passes"]
    assert (gone["id"], gone["state"]) == (made["id"], "revoked")


async def seed_log(staff: StaffConsole, rid: int, granted: int) -> Edge:
    """``granted`` swipes of the resident's card at the east gate, then an unknown card refused,
    sent as the site's edge sends them (the console's ingest path)."""
    edge = Edge(staff.sessions, SITE)
    events = [edge.event("access.granted", {
        "v": 1, "door": DOOR, "credential": "12345678", "holder": f"resident-{rid}",
        "reader": "r-east", "method": "card", "direction": "in"}, device="doors-1")
        for _ in range(granted)]
    events.append(edge.event("access.denied", {
        "v": 1, "door": DOOR, "credential": "99999", "holder": None, "reader": "r-east",
        "method": "card", "reason": "unknown_card"}, device="doors-1"))
    await edge.send(*events)
    return edge


async def test_the_log_shows_granted_and_denied_swipes_and_pages_on(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    rid = await owner(staff)
    await seed_log(staff, rid, granted=55)
    await browser_login(page, staff.url, "admin", PASSWORD, then="/access?tab=log")
    rows = page.locator("#log tr[data-entry]")
    await expect(rows).to_have_count(50)  # one page, newest first
    denied = rows.first
    await expect(denied).to_contain_text("拒绝")
    await expect(denied).to_contain_text("未登记的卡")
    await expect(denied).to_contain_text("99999")
    await expect(rows.nth(1)).to_contain_text("放行")
    await expect(rows.nth(1)).to_contain_text("王秀英（1-101）")
    await expect(rows.nth(1)).to_contain_text(DOOR)
    await page.click("#log-more")
    await expect(rows).to_have_count(56)
    await expect(page.locator("#log-more")).to_be_hidden()
    assert await raw_codes(page) == []

    # Only the refusals; a bad filter is refused beside its field.
    await page.locator("#log-form select[name=result]").select_option("denied")
    await page.click("#log-find")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("未登记的卡")
    await page.fill("#log-form input[name=from]", "2026-12-08")
    await page.fill("#log-form input[name=to]", "2026-12-01")
    await page.click("#log-find")
    await expect(page.locator("#log-form .field-error")).to_contain_text("结束时间须晚于开始时间")


async def test_without_personal_data_the_log_masks_the_residents_name(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    rid = await owner(staff)
    await seed_log(staff, rid, granted=1)
    await browser_login(page, staff.url, "operations-lead", PASSWORD, then="/access?tab=log")
    rows = page.locator("#log tr[data-entry]")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(1)).to_contain_text("王**（1-101）")
    await expect(page.locator("#log")).not_to_contain_text("王秀英")
    await expect(page.locator("#tab-passes")).to_be_hidden()  # no access.passes
    await page.click("#tab-cards")
    await expect(page.locator("#card-form")).to_be_hidden()  # read-only: no records.write
    assert await raw_codes(page) == []

    # In English the same log reads in English.
    await page.evaluate("localStorage.setItem('cy.lang', 'en')")
    await page.goto(f"{staff.url}/access?tab=log")
    await expect(page.locator("#tab-log")).to_have_text("Access log")
    await expect(rows.first).to_contain_text("Card not enrolled")
    await expect(rows.nth(1)).to_contain_text("Granted")
    assert await raw_codes(page) == []


async def forced_door(staff: StaffConsole) -> None:
    """A resident through the east gate, then the gate forced (an alarm opens)."""
    rid = await owner(staff)
    edge = await seed_log(staff, rid, granted=1)
    await edge.ingest("door.forced", {"v": 1, "door": DOOR, "message": "门被强行打开 / forced"},
                      device="doors-1")
    await edge.ingest("door.closed", {"v": 1, "door": "west-gate"}, device="doors-1")
    await edge.ingest("door.mode_changed", {
        "v": 1, "door": "west-gate", "mode": "normally_open", "reason": "schedule",
        "until": "2026-12-07T10:00:00+00:00"}, device="doors-1")


async def test_the_guard_sees_a_forced_door_and_without_a_broker_is_told_so(
        signing: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    staff = signing

    await forced_door(staff)
    await browser_login(page, staff.url, "guard", PASSWORD, then="/guard/doors")
    await expect(page.locator('.cy-menu a[aria-current="page"]')).to_have_text("门禁状态")
    door = page.locator(f'li.door[data-door="{DOOR}"]')
    await expect(door).to_have_class(re.compile(r"\balert\b"))
    await expect(door).to_contain_text("被强行打开")
    await expect(door).to_contain_text("王**（1-101）")  # a guard reads no personal data
    await expect(door).to_contain_text("未处理报警 1")
    west = page.locator('li.door[data-door="west-gate"]')
    await expect(west).to_contain_text("已关闭")
    await expect(west.locator(".door-mode")).to_have_text("常开，至 18:00")
    await expect(west).not_to_have_class(re.compile(r"\balert\b"))
    await shoot(page, "guard-doors-1920.png", max_bytes=MAX_SHOT_BYTES)
    await door.get_by_role("button", name="开门").click()
    await expect(door.locator(".cmd-error")).to_contain_text("控制台未连接消息代理")
    assert (await staff.get(f"/api/sites/{SITE}/commands"))["commands"] == []
    assert await raw_codes(page) == []

    # 签发访客证 from the same view.
    await page.click("#pass-toggle")
    form = page.locator("#pass-panel .pass-form")
    await form.locator("input[name=visitor_name]").fill("快递员")
    await form.locator("input[name=unit]").fill("1-101")
    await form.locator(".pass-issue").click()
    await expect(page.locator("#pass-panel .pass-result img.qr")).to_be_visible()
    [made] = (await staff.get(PASSES))["passes"]
    assert made["visitor_name"] == "快递员"

    # On patrol, on a phone: the doors and the pass form fit without scrolling sideways.
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(door).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the door view scrolls sideways on a phone ({width}px)"


async def test_the_guard_opens_a_forced_door_through_the_command_channel(
        rig: Rig, browser: Browser) -> None:
    from playwright.async_api import expect

    staff = rig.staff
    await forced_door(staff)
    async with aiomqtt.Client("127.0.0.1", rig.broker.port, username=SITE, password=SITE_SECRET,
                              identifier="edge-sunny-doors", timeout=5) as edge, \
            checked_page(browser, 1920, 1080) as page:
        await edge.subscribe(topics.down_filter(SITE), qos=1)
        await browser_login(page, staff.url, "guard", PASSWORD, then="/guard/doors")
        door = page.locator(f'li.door[data-door="{DOOR}"]')
        await expect(door).to_contain_text("被强行打开")
        await door.get_by_role("button", name="开门").dblclick()  # one command however clicked
        [sent] = await next_commands(edge, 2.0)
        assert (sent["kind"], sent["args"], sent["issued_by"]) == (
            "door.open", {"door": DOOR}, await guard_name(staff))
        await expect(door.locator(".cmd-state")).to_have_text("已下发")
        await rig.reply(sent["cmd_id"], CommandResult.OK, "已开门 / opened")
        await expect(door.locator(".cmd-state")).to_have_text("已执行")
        [stored] = (await staff.get(f"/api/sites/{SITE}/commands"))["commands"]
        assert (stored["kind"], stored["state"], stored["issued_by"]) == (
            "door.open", "done", await guard_name(staff))
        assert await raw_codes(page) == []
