"""巡更 pages in a real Chromium (PostgreSQL): the operations lead sets patrol up by clicking
(a BLE and a QR checkpoint, a route of both with its due minutes, a plan — a bad time refused
beside its field first — and a tag issued to a guard then handed over with its history); a
guard sees a round the edge reported through the real ingest path on the guard board's live
panel and on 今日巡更; the report draws one bar per row and its 导出 Excel link downloads a
workbook. Every effect a click makes is checked through the API.

``COURTYARD_SCREENSHOTS=1`` saves the pages for docs/console.md to docs/screenshots/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tests.browser.conftest import raw_codes, shoot
from tests.browser.test_guard_board import Edge
from tests.support.auth import browser_login, create_staff
from tests.support.staff_console import PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Page

SITE = "sunny"
API = f"/api/sites/{SITE}/patrol"
TZ = ZoneInfo("Asia/Shanghai")
TAG = "426c7565-4368-6172-6d42-6561636f6e73 3838 4949"
TAG_KEY = "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949"
MAX_SHOT_BYTES = 300_000






async def guards(staff: StaffConsole) -> None:
    """Two guards' logins a tag passes between (names that are no stored code on screen)."""
    await create_staff(staff.sessions, "laozhao", PASSWORD, "guard", display_name="老赵")
    await create_staff(staff.sessions, "xiaoqian", PASSWORD, "guard", display_name="小钱")


async def test_the_operations_lead_sets_patrol_up_by_clicking(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    await guards(staff)
    await browser_login(page, staff.url, "operations-lead", PASSWORD, then="/patrol")
    await expect(page.locator('.cy-menu a[aria-current="page"]')).to_have_text("巡更管理")

    # 巡更点: one heard by a receiver, one with a QR sticker.
    cp = page.locator("#cp-form")
    await cp.locator("input[name=code]").fill("cp-gate")
    await cp.locator("input[name=name]").fill("北门岗亭")
    await cp.locator("input[name=area]").fill("北门")
    await cp.locator("input[name=receiver]").fill("omg-north")
    await page.click("#cp-save")
    await expect(page.locator('#checkpoints tr[data-checkpoint="cp-gate"]')).to_contain_text(
        "蓝牙 omg-north")
    await cp.locator("input[name=code]").fill("cp-b1")
    await cp.locator("input[name=name]").fill("1栋大堂")
    await cp.locator("input[name=building]").fill("1栋")
    await cp.locator("input[name=qr]").check()
    await page.click("#cp-save")
    qr_row = page.locator('#checkpoints tr[data-checkpoint="cp-b1"]')
    await expect(qr_row).to_contain_text("二维码")
    await expect(qr_row.get_by_role("link", name="打印二维码")).to_have_attribute(
        "href", f"{API}/checkpoints/cp-b1/sticker.svg")
    points = {c["code"]: c for c in (await staff.get(f"{API}/checkpoints"))["checkpoints"]}
    assert (points["cp-gate"]["receiver"], points["cp-gate"]["qr"]) == ("omg-north", False)
    assert (points["cp-b1"]["receiver"], points["cp-b1"]["qr"]) == (None, True)

    # 路线: both checkpoints in order, the second due 5 minutes after the start.
    await page.click("#tab-routes")
    route = page.locator("#route-form")
    await route.locator("input[name=code]").fill("night")
    await route.locator("input[name=name]").fill("夜间外围")
    rows = route.locator("#route-points li")
    await rows.nth(0).locator("select").select_option("cp-gate")
    await rows.nth(0).locator("input").fill("0")
    await rows.nth(1).locator("select").select_option("cp-b1")
    await rows.nth(1).locator("input").fill("5")
    await page.click("#route-save")
    await expect(page.locator('#routes tr[data-route="night"]')).to_contain_text(
        "北门岗亭 0′ → 1栋大堂 5′")
    [night] = (await staff.get(f"{API}/routes"))["routes"]
    assert night["points"] == [{"checkpoint": "cp-gate", "offset_s": 0},
                               {"checkpoint": "cp-b1", "offset_s": 300}]
    # Walking 1栋大堂 first without changing its minutes is refused beside the row it names.
    await page.locator('#routes tr[data-route="night"]').get_by_role("button", name="编辑").click()
    await expect(route.locator("input[name=code]")).to_have_value("night")
    await rows.nth(1).get_by_role("button", name="上移").click()
    await expect(rows.nth(0).locator("select")).to_have_value("cp-b1")
    await page.click("#route-save")
    await expect(route.locator(".field-error")).to_contain_text("时间偏移不能小于上一个巡更点")
    await expect(rows.nth(1).locator("label.has-error input")).to_have_value("0")
    [night] = (await staff.get(f"{API}/routes"))["routes"]
    assert [p["checkpoint"] for p in night["points"]] == ["cp-gate", "cp-b1"]
    await page.click("#route-new")

    # 计划: a time that is not one is refused beside its field; what was typed stays.
    await page.click("#tab-plans")
    plan = page.locator("#plan-form")
    await plan.locator("input[name=code]").fill("night-2h")
    await plan.locator("input[name=name]").fill("夜班每2小时")
    await plan.locator("select[name=route]").select_option("night")
    await plan.locator("input[name=start]").fill("25:00")
    await plan.locator("input[name=end]").fill("06:00")
    await page.click("#plan-save")
    await expect(plan.locator("label.has-error input[name=start]")).to_have_value("25:00")
    await expect(plan.locator(".field-error")).to_contain_text("不是有效的时刻")
    assert (await staff.get(f"{API}/plans"))["plans"] == []
    await plan.locator("input[name=start]").fill("22:00")
    await plan.locator("input[name=late]").fill("3")
    await page.click("#plan-add-tol")
    tol = plan.locator("#plan-tolerances li").first
    await tol.locator("select").select_option("cp-b1")
    await tol.locator("input").fill("4")
    await page.click("#plan-save")
    await expect(page.locator('#plans tr[data-plan="night-2h"]')).to_contain_text(
        "每天 22:00–06:00 每 2 小时")
    [saved] = (await staff.get(f"{API}/plans"))["plans"]
    assert (saved["route"], saved["start"], saved["end"], saved["every_s"], saved["late_s"],
            saved["tolerance_s"], saved["tolerances"]) == (
        "night", "22:00:00", "06:00:00", 7200, 180, 120, {"cp-b1": 240})

    # 巡更标签: issued to the guard as printed on it, then handed over with a note.
    await page.click("#tab-tags")
    tag = page.locator("#tag-form")
    # The guard field offers the site's guards by login (their names beside them).
    offered = page.locator('#guard-logins option[value="laozhao"]')
    await expect(offered).to_have_count(1)
    assert "老赵" in (await offered.get_attribute("label") or await offered.inner_text())
    await expect(tag.locator("input[name=guard]")).to_have_attribute("list", "guard-logins")
    await tag.locator("input[name=tag]").fill("not a tag")
    await tag.locator("input[name=guard]").fill("laozhao")
    await page.click("#tag-issue")
    await expect(tag.locator(".field-error")).to_contain_text("无法识别的标签编号")
    await tag.locator("input[name=tag]").fill(TAG)
    await tag.locator("input[name=label]").fill("巡更棒 07")
    await page.click("#tag-issue")
    row = page.locator(f'#tags tr[data-tag="{TAG_KEY}"]')
    await expect(row).to_contain_text("巡更棒 07")
    await expect(row.locator("td").nth(2)).to_have_text("laozhao")
    await row.get_by_role("button", name="交接", exact=True).click()
    await row.locator("input[name=guard]").fill("xiaoqian")
    await row.locator("input[name=note]").fill("夜班交接")
    await row.get_by_role("button", name="确认交接").click()
    await expect(row.locator("td").nth(2)).to_have_text("xiaoqian")
    await row.get_by_role("button", name="交接记录").click()
    history = page.locator(f'#tags tr[data-history="{TAG_KEY}"] li')
    await expect(history).to_have_count(2)
    await expect(history.nth(0)).to_contain_text("laozhao")
    await expect(history.nth(1)).to_contain_text("xiaoqian")
    await expect(history.nth(1)).to_contain_text("夜班交接")
    [issued] = (await staff.get(f"{API}/tags"))["tags"]
    assert (issued["tag"], issued["guard"], issued["state"]) == (TAG_KEY, "xiaoqian", "active")
    assert await raw_codes(page) == []
    await shoot(page, "patrol-tags-1920.png", max_bytes=MAX_SHOT_BYTES, full_page=True)


async def test_a_qr_checkpoint_prints_its_sticker_and_a_reissue_retires_the_old_one(
        signing: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    staff = signing
    await staff.api("POST", f"{API}/checkpoints", {"code": "cp-b1", "name": "1栋大堂",
                                                   "qr": True}, expect=201)
    await browser_login(page, staff.url, "operations-lead", PASSWORD, then="/patrol")
    row = page.locator('#checkpoints tr[data-checkpoint="cp-b1"]')
    await expect(row).to_contain_text("二维码（第 1 版）")
    href = await row.get_by_role("link", name="打印二维码").get_attribute("href")
    assert href is not None
    svg = await page.request.get(staff.url + href)
    assert svg.status == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in await svg.body()

    await row.get_by_role("button", name="重新生成").click()
    await expect(row).to_contain_text("旧二维码将作废")
    await row.get_by_role("button", name="确认重新生成").click()
    await expect(row).to_contain_text("二维码（第 2 版）")
    [cp] = (await staff.get(f"{API}/checkpoints"))["checkpoints"]
    assert cp["sticker_n"] == 2


# --- a day the edge reported ----------------------------------------------------------------

async def set_up_site(staff: StaffConsole, start: datetime) -> None:
    """Two checkpoints, a route of both and a plan whose one round a day starts at ``start``."""
    for code, name, receiver in (("cp-gate", "北门岗亭", "omg-north"),
                                 ("cp-b1", "1栋大堂", "omg-b1")):
        await staff.api("POST", f"{API}/checkpoints", {"code": code, "name": name,
                                                       "receiver": receiver}, expect=201)
    await staff.api("POST", f"{API}/routes", {"code": "night", "name": "夜间外围", "points": [
        {"checkpoint": "cp-gate", "offset_s": 0},
        {"checkpoint": "cp-b1", "offset_s": 1800}]}, expect=201)
    local = start.astimezone(TZ)
    await staff.api("POST", f"{API}/plans", {
        "code": "night-1", "name": "夜班巡更", "route": "night", "every_s": 0,
        "start": local.strftime("%H:%M:00"),
        "end": (local + timedelta(hours=3)).strftime("%H:%M:00")}, expect=201)


def round_events(edge: Edge, start: datetime) -> list[Any]:
    """The round started by the guard at the gate, on time; 1栋大堂 not yet due."""
    rid = f"night-1@{start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    scheduled = start.astimezone(UTC).isoformat()
    common = {"plan": "night-1", "round": rid, "guard": "laozhao", "tag": TAG_KEY}
    return [
        edge.event("patrol.round_started", {**common, "route": "night", "scheduled": scheduled,
                                            "message": "巡更开始 / round started"},
                   device="patrol"),
        edge.event("patrol.checkpoint", {**common, "checkpoint": "cp-gate", "source": "ble",
                                         "receiver": "omg-north", "rssi": -3, "dwell_s": 5.0,
                                         "status": "on_time", "due": scheduled,
                                         "message": "巡更打卡 / checkpoint"}, device="patrol"),
    ]


async def test_a_guard_sees_the_live_round_on_the_board_and_on_today(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    await guards(staff)
    await set_up_site(staff, start)
    edge = Edge(staff.sessions, SITE)
    await edge.send(*round_events(edge, start))

    await browser_login(page, staff.url, "guard", PASSWORD, then="/guard")
    panel = page.locator("#patrol-live")
    await expect(panel).to_be_visible()
    live = panel.locator(".patrol-round")
    await expect(live).to_have_count(1)
    await expect(live).to_contain_text("夜班巡更")
    await expect(panel).not_to_contain_text("null")
    await expect(live.locator('.chip[data-checkpoint="cp-gate"]')).to_have_attribute(
        "data-state", "on_time")
    await expect(live.locator('.chip[data-checkpoint="cp-gate"]')).to_contain_text("准时")
    await expect(live.locator('.chip[data-checkpoint="cp-b1"]')).to_have_attribute(
        "data-state", "pending")
    assert await raw_codes(page) == []
    await shoot(page, "patrol-board-1920.png", max_bytes=MAX_SHOT_BYTES, full_page=True)

    # 1栋大堂's deadline passes unvisited: the edge says so, the day's view shows it red.
    rid = f"night-1@{start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    await edge.ingest("patrol.checkpoint_missed", {
        "plan": "night-1", "round": rid, "checkpoint": "cp-b1", "guard": "laozhao",
        "deadline": (start + timedelta(minutes=37)).astimezone(UTC).isoformat(),
        "message": "漏检 / checkpoint missed"}, device="patrol")
    await page.goto(f"{staff.url}/patrol/today")
    await expect(page.locator('.cy-menu a[aria-current="page"]')).to_have_text("今日巡更")
    plan = page.locator('.plan[data-plan="night-1"]')
    await expect(plan.locator("h2")).to_have_text("夜班巡更")
    rnd = plan.locator("tr.round")
    await expect(rnd).to_have_count(1)
    await expect(rnd).to_contain_text("进行中")
    await expect(rnd.locator('.chip[data-checkpoint="cp-gate"]')).to_contain_text("准时")
    await expect(rnd.locator('.chip[data-checkpoint="cp-b1"]')).to_have_attribute(
        "data-state", "missed")
    await expect(rnd.locator('.chip[data-checkpoint="cp-b1"]')).to_contain_text("漏检")
    assert await rnd.locator('.chip[data-checkpoint="cp-b1"]').evaluate(
        "n => getComputedStyle(n).color") == "rgb(198, 40, 40)"  # --cy-bad
    await expect(rnd.locator("td").nth(3)).to_have_text("1")  # counted from the chips, live
    await expect(rnd.locator("td").nth(5)).to_have_text("1")
    assert await raw_codes(page) == []
    await shoot(page, "patrol-today-1920.png", max_bytes=MAX_SHOT_BYTES, full_page=True)
    await page.click("#cy-lang")  # English is a switch: the same day in English
    await expect(page.locator(".plan tr.round")).to_contain_text("In progress")
    await expect(page.locator('.plan .chip[data-checkpoint="cp-b1"]')).to_contain_text("Missed")
    await expect(page.locator("#day-today")).to_have_text("Today")
    await page.click("#cy-lang")


async def test_the_report_draws_a_bar_per_row_and_the_xlsx_link_downloads(
        staff: StaffConsole, page: Page) -> None:
    from playwright.async_api import expect

    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    await guards(staff)
    await set_up_site(staff, start)
    edge = Edge(staff.sessions, SITE)
    await edge.send(*round_events(edge, start))
    rid = f"night-1@{start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    await edge.ingest("patrol.round_completed", {
        "plan": "night-1", "round": rid, "route": "night",
        "scheduled": start.astimezone(UTC).isoformat(), "guard": "laozhao", "tag": TAG_KEY,
        "on_time": 1, "late": 1, "missed": 0, "out_of_order": 0, "outcome": "complete",
        "message": "巡更完成 / round completed"}, device="patrol")

    await browser_login(page, staff.url, "operations-lead", PASSWORD,
                        then="/patrol/report?by=route")
    body = page.locator("#report tr[data-key]")
    await expect(body).to_have_count(1)
    await expect(body.first).to_contain_text("夜间外围")
    await expect(body.first).to_contain_text("100.00%")
    bars = page.locator("#chart svg rect.bar")
    await expect(bars).to_have_count(1)
    assert await bars.first.get_attribute("data-label") == "夜间外围"

    await page.select_option("select[name=by]", "guard")
    await page.click("#report-show")
    await expect(page.locator("#report-group")).to_have_text("保安")
    await expect(bars).to_have_count(await body.count())
    href = await page.locator("#report-xlsx").get_attribute("href")
    assert href is not None and "report.xlsx?" in href and "by=guard" in href
    resp = await page.request.get(staff.url + href)
    assert resp.status == 200
    assert resp.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert (await resp.body())[:2] == b"PK"
    assert await raw_codes(page) == []
    await shoot(page, "patrol-report-1920.png", max_bytes=MAX_SHOT_BYTES, full_page=True)
