"""A work order's life through the two pages, as the staff of 阳光花园 live it: the operations
lead files it on the board and assigns it, the technician accepts, starts, logs his hours and
completes it on his phone (390×844), the lead closes it, reopens it with a note, and cancels
another. Every click is checked through the API: the new state, and that the actor is the
login (no page sends a name). With COURTYARD_SCREENSHOTS=1 the board (1920×1080) and the phone
page are saved under docs/screenshots/.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from cloud.db.models import Site
from cloud.workorders.service import Source, open_or_fold
from tests.browser.conftest import checked_page, raw_codes
from tests.support.auth import browser_login
from tests.support.staff_console import PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser, Locator, Page

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
MAX_SHOT = 300_000


async def _display_name(staff: StaffConsole, username: str) -> str:
    people = (await staff.get("/api/staff"))["staff"]
    return str(next(p for p in people if p["username"] == username)["display_name"])


async def _order(staff: StaffConsole, order_id: int) -> dict[str, Any]:
    return dict(await staff.get(f"/api/workorders/{order_id}"))


def _steps(order: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [h for h in order["history"] if h["action"] == action]


async def _shot(page: Page, name: str) -> None:
    assert await raw_codes(page) == [], f"a stored code on the page ({name})"
    if os.environ.get("COURTYARD_SCREENSHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    await page.screenshot(path=str(path))
    assert path.stat().st_size < MAX_SHOT, f"{name} is {path.stat().st_size} bytes"


def _column(page: Page, state: str) -> Locator:
    return page.locator(f'section.column[data-state="{state}"]')


async def test_lead_files_and_assigns_technician_works_lead_closes_reopens_and_cancels(
        staff: StaffConsole, browser: Browser) -> None:
    from playwright.async_api import expect

    lead_name = await _display_name(staff, "operations-lead")
    tech_name = await _display_name(staff, "technician")
    # The technician login acts as the technician record of its display name.
    tech = next(t for t in (await staff.get("/api/technicians"))["technicians"]
                if t["id"] == staff.technician_id)
    assert tech["name"] == tech_name  # the login's display name is the technician record
    other = await staff.api("POST", "/api/workorders", {
        "site": "sunny", "category": "public_area", "title": "2栋大堂灯不亮",
        "priority": "low"}, expect=201)
    late_id = await _overdue_order(staff)

    async with checked_page(browser, 1920, 1080) as board:
        await browser_login(board, staff.url, "operations-lead", PASSWORD,
                            then="/workorders/board?site=sunny")
        await expect(board.locator("#cy-site option:checked")).to_have_text("阳光花园")
        await board.click("#new-order")
        await board.select_option("#f-category", "plumbing")
        await board.select_option("#f-priority", "high")
        await expect(board.locator("#f-category option:checked")).to_have_text("水暖")
        await expect(board.locator("#f-site")).to_have_text("阳光花园")
        # Refused on the page: the message is beside the form, what was typed stays.
        await board.fill("#f-description", "厨房水管漏水，已关总阀")
        await board.click("#f-submit")
        await expect(board.locator("#create-error")).to_have_text("请填写位置或房号")
        await expect(board.locator("#f-description")).to_have_value("厨房水管漏水，已关总阀")
        await board.fill("#f-location", "3栋2单元101")
        await board.locator("#f-submit").dblclick()
        await expect(board.locator("#notice")).to_contain_text("待派单")
        await expect(board.locator("#create-error")).to_be_hidden()
        await board.click("#f-cancel")
        await expect(board.locator("#create")).to_be_hidden()
        filed = [o for o in (await staff.get("/api/workorders?site=sunny"))["workorders"]
                 if o["title"]["zh"].startswith("3栋2单元101")]
        assert len(filed) == 1, "a double-click filed the order twice"
        oid = filed[0]["id"]
        got = await _order(staff, oid)
        assert (got["state"], got["category"], got["priority"]) == ("pool", "plumbing", "high")
        assert got["title"]["zh"] == "3栋2单元101 厨房水管漏水，已关总阀"
        assert got["source"]["requested_by"] == lead_name

        card = _column(board, "pool").locator(f'li.order[data-id="{oid}"]')
        await expect(card.locator(".cat")).to_have_text("水暖")
        await expect(card.locator(".prio")).to_have_text("高")
        await expect(card.locator(".skill")).to_contain_text("水暖")
        await card.locator("select.tech").select_option(str(tech["id"]))
        await card.get_by_role("button", name="派单", exact=True).dblclick()
        await expect(board.locator("#notice")).to_contain_text("已派单")
        assigned = _column(board, "assigned").locator(f'li.order[data-id="{oid}"]')
        await expect(assigned).to_contain_text(tech_name)
        got = await _order(staff, oid)
        assert (got["state"], got["assignee_ids"]) == ("assigned", [tech["id"]])
        assert [s["by"] for s in _steps(got, "assign")] == [lead_name]
        await expect(board.locator(f'#load li[data-tech="{tech["id"]}"] .n')).to_have_text("1")
        # The order past its response deadline is marked, and counted at the top.
        late = _column(board, "pool").locator(f'li.order[data-id="{late_id}"]')
        await expect(late).to_have_class(re.compile("overdue"))
        await expect(late.locator(".late")).to_have_text("已超时")
        await expect(late.locator(".sla")).to_contain_text("响应已超时")
        await expect(board.locator("#n-overdue")).to_have_text("1")

        async with checked_page(browser, 390, 844) as phone:
            await browser_login(phone, staff.url, "technician", PASSWORD,
                                then="/workorders/tech")
            await expect(phone.locator("#who")).to_have_text(tech_name)
            # The pool offers him nothing: the elevator fault needs a skill he lacks, the
            # lobby light general repairs (grabbing them would be refused anyway).
            await expect(phone.locator("#n-pool")).to_have_text("0")
            mine = phone.locator(f'li.order[data-id="{oid}"]')
            await expect(mine.locator(".state")).to_have_text("已派单")
            box = await mine.get_by_role("button", name="接单", exact=True).bounding_box()
            assert box is not None and box["height"] >= 56, "buttons big enough for gloves"
            for button, shown, code in (("接单", "已接单", "accepted"),
                                        ("开始处理", "处理中", "in_progress")):
                await mine.get_by_role("button", name=button, exact=True).click()
                await expect(mine.locator(".state")).to_have_text(shown)
                await expect(phone.locator("#notice")).to_contain_text(shown)
                got = await _order(staff, oid)
                assert got["state"] == code
                assert got["history"][-1]["by"] == tech_name
            await mine.get_by_role("button", name="登记工时与备件", exact=True).click()
            await mine.locator('input[name="hours"]').fill("1.5")
            await mine.get_by_role("button", name="确认登记工时与备件").click()
            await expect(mine.locator(".ask")).to_have_count(0)
            got = await _order(staff, oid)
            assert [(line["kind"], line["hours"], line["by"], line["technician_id"])
                    for line in got["lines"]] == [("labour", "1.5", tech_name, tech["id"])]
            # A part without its price is refused beside the button, naming the field; what
            # was typed stays for the price to be added.
            await mine.get_by_role("button", name="登记工时与备件", exact=True).click()
            await mine.locator('input[name="part"]').fill("角阀")
            await mine.locator('input[name="qty"]').fill("2")
            await mine.get_by_role("button", name="确认登记工时与备件").click()
            await expect(mine.locator(".error")).to_contain_text("单价（元）")
            await expect(mine.locator('input[name="part"]')).to_have_value("角阀")
            await mine.locator('input[name="unit_price"]').fill("25")
            await mine.get_by_role("button", name="确认登记工时与备件").click()
            await expect(mine.locator(".ask")).to_have_count(0)
            await expect(mine.locator(".error")).to_be_hidden()
            got = await _order(staff, oid)
            assert [(line["kind"], line["part"], line["cost"], line["by"])
                    for line in got["lines"]][1:] == [("part", "角阀", "50", tech_name)]
            await _shot(phone, "workorders-tech-390.png")
            await mine.get_by_role("button", name="完工", exact=True).dblclick()
            await expect(phone.locator("#notice")).to_contain_text("已完工")
            await expect(phone.locator("#empty")).to_be_visible()  # no open order left
            got = await _order(staff, oid)
            assert got["state"] == "completed"
            assert [s["by"] for s in _steps(got, "complete")] == [tech_name]

        done = _column(board, "completed").locator(f'li.order[data-id="{oid}"]')
        await board.reload()
        await done.get_by_role("button", name="关闭", exact=True).dblclick()
        await expect(board.locator("#notice")).to_contain_text("已关闭")
        ended = _column(board, "closed").locator(f'li.order[data-id="{oid}"]')
        await expect(ended.locator(".state")).to_have_text("已关闭")
        got = await _order(staff, oid)
        assert got["state"] == "closed"
        assert [s["by"] for s in _steps(got, "close")] == [lead_name]

        # Reopening needs a note: asked for on the card; an empty one is refused beside it.
        await ended.get_by_role("button", name="重新打开", exact=True).click()
        await ended.get_by_role("button", name="确认重新打开").click()
        await expect(ended.locator(".error")).to_contain_text("须填写说明")
        assert (await _order(staff, oid))["state"] == "closed"
        await ended.locator("input.note").fill("业主反映仍有渗水")
        await ended.get_by_role("button", name="确认重新打开").click()
        await expect(board.locator("#notice")).to_contain_text("已派单")
        got = await _order(staff, oid)
        assert got["state"] == "assigned"
        assert [(s["by"], s["note"]) for s in _steps(got, "reopen")] == [
            (lead_name, "业主反映仍有渗水")]

        # Cancelling needs a note too (closing did not ask for one).
        pooled = _column(board, "pool").locator(f'li.order[data-id="{other["id"]}"]')
        await pooled.get_by_role("button", name="取消", exact=True).click()
        await pooled.locator("input.note").fill("业主已自行修好")
        await pooled.get_by_role("button", name="确认取消").dblclick()
        await expect(board.locator("#notice")).to_contain_text("已取消")
        await expect(_column(board, "closed").locator(
            f'li.order[data-id="{other["id"]}"] .state')).to_have_text("已取消")
        got = await _order(staff, other["id"])
        assert got["state"] == "cancelled"
        assert [(s["by"], s["note"]) for s in _steps(got, "cancel")] == [
            (lead_name, "业主已自行修好")]
        await expect(board.locator(".order .error:visible")).to_have_count(0)
        await _shot(board, "workorders-board-1920.png")


async def _overdue_order(staff: StaffConsole) -> int:
    """An elevator fault seen by its device five hours ago, never answered (30 min to)."""
    seen = datetime.now(UTC) - timedelta(hours=5)
    async with staff.sessions() as session, session.begin():
        site_id = (await session.execute(select(Site.id).where(Site.slug == "sunny"))).scalar_one()
        order, _ = await open_or_fold(
            session, site_id=site_id, fold_key="elevator:elev-2-a", category="elevator_fault",
            priority="urgent", sla_response_s=1800, sla_resolve_s=4 * 3600, skill="elevator",
            title=("2号楼电梯故障停梯", "Building 2 elevator stopped"), cause_ts=seen, now=seen,
            source=Source("event", device="elev-2-a"))
        return int(order.id)


async def test_board_and_phone_page_speak_english_through_the_switch(
        staff: StaffConsole, browser: Browser) -> None:
    from playwright.async_api import expect

    tech_name = await _display_name(staff, "technician")
    tech = next(t for t in (await staff.get("/api/technicians"))["technicians"]
                if t["id"] == staff.technician_id)
    assert tech["name"] == tech_name  # the login's display name is the technician record
    order = await staff.api("POST", "/api/workorders", {
        "site": "sunny", "category": "plumbing", "title": "5-1-302 阳台漏水",
        "priority": "urgent"}, expect=201)
    await staff.api("POST", f"/api/workorders/{order['id']}/assign",
                    {"assignee_ids": [tech["id"]]})
    async with checked_page(browser, 390, 844) as phone:
        await browser_login(phone, staff.url, "technician", PASSWORD, then="/workorders/tech")
        card = phone.locator(f'li.order[data-id="{order["id"]}"]')
        await expect(card.locator(".prio")).to_have_text("紧急")
        await phone.click("#cy-lang")
        await expect(card.locator(".prio")).to_have_text("Urgent")
        await expect(card.locator(".cat")).to_have_text("Plumbing")
        await expect(card.locator(".state")).to_have_text("Assigned")
        await expect(card.get_by_role("button", name="Accept", exact=True)).to_be_visible()
        await expect(phone.locator("#tab-pool")).to_contain_text("Pool")
        await expect(card.locator(".sla")).to_contain_text("left to respond")
