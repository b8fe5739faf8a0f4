"""The work-order pages in a real Chromium against the real console and database: a
technician accepts and starts his order from his phone, grabs one from the pool and sees an
overdue one in red; the supervisor's board shows the columns with counts and dispatches a
pooled order. Orders are filed through the API or the service, as in production.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.auth.tables import StaffUser
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.settings import Settings
from cloud.workorders.service import Source, open_or_fold
from contract import SystemClock
from tests.browser.conftest import checked_page
from tests.support.auth import admin_headers, browser_login, create_staff
from tests.support.services import free_port

if TYPE_CHECKING:
    from playwright.async_api import Browser, Locator, Page

SITE = "garden"
RED = "rgb(211, 47, 47)"


class Console:
    """The console on a real port, with helpers that file and move orders like clients do."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.url = f"http://127.0.0.1:{free_port()}"
        self._headers: dict[str, str] | None = None
        self._staff: set[str] = set()

    async def open_as(self, page: Page, role: str, path: str,
                      sites: list[str] | None = None, name: str | None = None) -> None:
        """Log ``page`` in as a staff member of ``role`` serving ``sites`` (None: every site)
        and shown as ``name`` (a technician login acts as the technician of that name)
        through /login, and open ``path``."""
        username = f"{role}-1"
        if username not in self._staff:
            user_id = await create_staff(self.sessions, username, "page-password", role,
                                         sites=sites)
            if name is not None:
                async with self.sessions() as session, session.begin():
                    user = await session.get(StaffUser, user_id)
                    assert user is not None
                    user.display_name = name
            self._staff.add(username)
        await browser_login(page, self.url, username, "page-password", then=path)

    async def api(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        if self._headers is None:
            self._headers = await admin_headers(self.sessions)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5),
                                         headers=self._headers) as s, \
                s.request(method, self.url + path, json=body) as resp:
            got = await resp.json()
            assert resp.status == status, (resp.status, got)
            return got

    async def technician(self, name: str) -> int:
        """Off duty with no roster: nothing is dispatched to him automatically."""
        tech = await self.api("POST", "/api/technicians", {
            "name": name, "skills": ["plumbing"], "sites": [SITE]}, status=201)
        return int(tech["id"])

    async def request(self, title: str, priority: str = "high") -> dict[str, Any]:
        order = await self.api("POST", "/api/workorders", {
            "site": SITE, "category": "plumbing", "title": title, "priority": priority,
            "requested_by": "3-2-101 业主"}, status=201)
        assert order["state"] == "pool"
        return dict(order)

    async def assign(self, order_id: int, tech_id: int) -> None:
        await self.api("POST", f"/api/workorders/{order_id}/assign",
                       {"assignee_ids": [tech_id]})

    async def order(self, order_id: int) -> dict[str, Any]:
        return dict(await self.api("GET", f"/api/workorders/{order_id}"))


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add(Site(slug=SITE, name="花园小区", timezone="Asia/Shanghai"))
    c = Console(sessions)
    app = create_app(Settings(database_url=db_url), sessions, SystemClock())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(c.url.rsplit(":", 1)[1])).start()
    try:
        yield c
    finally:
        await runner.cleanup()
        await engine.dispose()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A phone-sized page that fails the test on any script error."""
    async with checked_page(browser, width=390, height=844) as p:
        yield p


def card(page: Page, title: str) -> Locator:
    return page.locator("li.order", has_text=title)


def hhmm(local_iso: str) -> str:
    return local_iso[11:16]


async def test_a_technician_accepts_and_starts_his_order_from_the_page(
        console: Console, page: Page) -> None:
    from playwright.async_api import expect

    wang = await console.technician("王师傅")
    other = await console.technician("李师傅")
    order = await console.request("3-2-101 厨房漏水")
    await console.assign(order["id"], wang)
    elsewhere = await console.request("5-1-302 阳台漏水")
    await console.assign(elsewhere["id"], other)

    # The login decides whose list it is: asking for 李师傅's in the address changes nothing.
    await console.open_as(page, "technician", f"/workorders/tech?tech={other}",
                          sites=[SITE], name="王师傅")
    await expect(page.locator("#who")).to_have_text("王师傅")
    mine = card(page, "3-2-101 厨房漏水")
    await expect(mine).to_be_visible()
    await expect(page.locator("li.order")).to_have_count(1)  # not 李师傅's
    await expect(page.locator("#n-mine")).to_have_text("1")
    await expect(mine).to_have_attribute("data-priority", "high")
    await expect(mine.locator(".cat")).to_contain_text("水暖")
    # The response SLA (2 h for "high"), due at the site's local time.
    await expect(mine.locator(".sla")).to_contain_text("响应剩余 1小时")
    await expect(mine.locator(".sla")).to_contain_text(hhmm(order["response_due_local"]))
    await expect(mine.locator(".sla")).not_to_have_class(re.compile("breached"))
    await expect(mine.get_by_role("button", name="开始处理", exact=True)).to_have_count(0)

    await mine.get_by_role("button", name="接单", exact=True).click()
    await expect(mine.locator(".state")).to_have_text("已接单")
    await mine.get_by_role("button", name="开始处理", exact=True).click()
    await expect(mine.locator(".state")).to_have_text("处理中")
    got = await console.order(order["id"])
    assert (got["state"], got["assignee_ids"]) == ("in_progress", [wang])
    assert [h["by"] for h in got["history"][-2:]] == ["王师傅", "王师傅"]

    # Pausing needs a note, asked for on the card; without one the console's refusal is
    # shown there and nothing changes.
    await mine.get_by_role("button", name="暂停", exact=True).click()
    await mine.get_by_role("button", name="确认暂停").click()
    await expect(mine.locator(".error")).to_contain_text("须填写说明")
    assert (await console.order(order["id"]))["state"] == "in_progress"
    await mine.locator("input.note").fill("等配件 / waiting for a part")
    await mine.get_by_role("button", name="确认暂停").click()
    await expect(mine.locator(".state")).to_have_text("已暂停")
    await expect(page.locator("#notice")).to_contain_text("已暂停")
    assert (await console.order(order["id"]))["history"][-1]["note"] == \
        "等配件 / waiting for a part"
    await mine.get_by_role("button", name="继续处理", exact=True).click()
    await expect(mine.locator(".state")).to_have_text("处理中")
    got = await console.order(order["id"])
    assert (got["state"], got["history"][-1]["action"], got["history"][-1]["by"]) == (
        "in_progress", "resume", "王师傅")


async def test_a_pooled_order_is_grabbed_from_the_pool_tab(
        console: Console, page: Page) -> None:
    from playwright.async_api import expect

    wang = await console.technician("王师傅")
    order = await console.request("车库水管爆裂", priority="urgent")

    # His home after logging in: no technician id in the address, the login says who.
    await console.open_as(page, "technician", "/workorders/tech", sites=[SITE], name="王师傅")
    await expect(page.locator("#n-pool")).to_have_text("1")
    await expect(page.locator("#empty")).to_be_visible()  # nothing of his own yet
    await page.get_by_role("tab", name=re.compile("待抢单")).click()
    pooled = card(page, "车库水管爆裂")
    await expect(pooled).to_have_attribute("data-priority", "urgent")
    await pooled.get_by_role("button", name="抢单", exact=True).click()
    await expect(page.locator("#n-pool")).to_have_text("0")
    await expect(page.locator("#n-mine")).to_have_text("1")
    got = await console.order(order["id"])
    assert (got["state"], got["assignee_ids"]) == ("accepted", [wang])

    # After a grab the page shows his own list, with the order in it.
    await expect(page.get_by_role("tab", name=re.compile("我的"))).to_have_attribute(
        "aria-selected", "true")
    await expect(card(page, "车库水管爆裂").locator(".state")).to_have_text("已接单")


async def test_an_overdue_order_is_under_overdue_in_red_with_its_repeats(
        console: Console, page: Page) -> None:
    from playwright.async_api import expect

    wang = await console.technician("王师傅")
    fresh = await console.request("大堂灯不亮", priority="low")
    await console.assign(fresh["id"], wang)
    seen = datetime.now(UTC) - timedelta(hours=5)  # urgent: respond within 30 min
    async with console.sessions() as session, session.begin():
        site = (await session.execute(Site.__table__.select().where(
            Site.slug == SITE))).one()
        for repeat in range(2):
            order, _ = await open_or_fold(
                session, site_id=site.id, fold_key="leak:b2", category="plumbing",
                priority="urgent", sla_response_s=1800, sla_resolve_s=4 * 3600,
                skill="plumbing", title=("B2 水泵房漏水", "B2 pump room leak"),
                cause_ts=seen + timedelta(minutes=repeat), now=seen + timedelta(minutes=repeat),
                source=Source("event", device="leak-b2"))
        late_id = order.id
    await console.assign(late_id, wang)

    await console.open_as(page, "technician", f"/workorders/tech?tech={wang}",
                          sites=[SITE], name="王师傅")
    await expect(page.locator("#n-overdue")).to_have_text("1")
    await expect(page.locator("#n-mine")).to_have_text("2")
    # Mine is sorted by the SLA: the late one first.
    await expect(page.locator("li.order").first).to_contain_text("B2 水泵房漏水")
    await page.get_by_role("tab", name=re.compile("已超时")).click()
    await expect(page.locator("li.order")).to_have_count(1)
    late = card(page, "B2 水泵房漏水")
    await expect(late).to_have_class(re.compile("overdue"))
    await expect(late.locator(".sla")).to_contain_text("已超时")
    await expect(late.locator(".sla")).to_have_css("color", RED)
    await expect(late.locator(".count")).to_have_text("×2")
    await expect(late.locator(".place")).to_contain_text("leak-b2")


async def test_the_supervisor_board_counts_columns_and_dispatches_a_pooled_order(
        console: Console, browser: Browser) -> None:
    from playwright.async_api import expect

    wang = await console.technician("王师傅")
    li = await console.technician("李师傅")
    first = await console.request("1-1-101 马桶堵塞")
    await console.request("2-3-402 暖气不热")
    busy = await console.request("会所热水器故障")
    await console.assign(busy["id"], wang)

    context = await browser.new_context(viewport={"width": 1600, "height": 1000},
                                        locale="zh-CN")
    board = await context.new_page()
    errors: list[str] = []
    board.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await console.open_as(board, "operations_lead", "/workorders/board", name="赵主管")
        column = {s: board.locator(f'section.column[data-state="{s}"]') for s in (
            "pool", "assigned", "accepted", "in_progress", "paused", "completed")}
        await expect(column["pool"].locator("h2 .n")).to_have_text("2")
        await expect(column["assigned"].locator("h2 .n")).to_have_text("1")
        for s in ("accepted", "in_progress", "paused", "completed"):
            await expect(column[s].locator("h2 .n")).to_have_text("0")
        await expect(column["assigned"]).to_contain_text("王师傅")
        await expect(board.locator(f'#load li[data-tech="{wang}"] .n')).to_have_text("1")
        await expect(board.locator(f'#load li[data-tech="{li}"] .n')).to_have_text("0")

        pooled = column["pool"].locator("li.order", has_text="1-1-101 马桶堵塞")
        await pooled.locator("select.tech").select_option(str(li))
        await pooled.get_by_role("button", name="派单", exact=True).click()
        await expect(column["pool"].locator("h2 .n")).to_have_text("1")
        await expect(column["assigned"].locator("h2 .n")).to_have_text("2")
        await expect(column["assigned"].locator("li.order", has_text="1-1-101 马桶堵塞")
                     ).to_contain_text("李师傅")
        await expect(board.locator(f'#load li[data-tech="{li}"] .n')).to_have_text("1")
        got = await console.order(first["id"])
        assert (got["state"], got["assignee_ids"]) == ("assigned", [li])
        assert got["history"][-1]["by"] == "赵主管"

        # Transferring the busy order from 王师傅 to 李师傅 asks for no note.
        moving = column["assigned"].locator("li.order", has_text="会所热水器故障")
        await moving.locator("select.tech").select_option(str(li))
        await moving.get_by_role("button", name="转派", exact=True).click()
        await expect(board.locator("#notice")).to_contain_text("已派单")
        await expect(moving.locator(".assignees")).to_contain_text("李师傅")
        got = await console.order(busy["id"])
        assert (got["assignee_ids"], got["history"][-1]["action"], got["history"][-1]["by"]) \
            == ([li], "transfer", "赵主管")

        # Another site's board is empty.
        async with console.sessions() as session, session.begin():
            session.add(Site(slug="lake", name="湖畔"))
        await board.reload()
        await board.locator("#cy-site").select_option("lake")
        await expect(column["assigned"].locator("h2 .n")).to_have_text("0")
        await expect(board.locator("li.order")).to_have_count(0)
    finally:
        await context.close()
    assert not errors, f"script errors on the page: {errors}"


async def test_the_pages_carry_the_transition_table_and_serve_only_their_assets(
        console: Console) -> None:
    async with aiohttp.ClientSession(headers=await admin_headers(console.sessions)) as s:
        for path in ("/workorders/tech", "/workorders/board"):
            async with s.get(console.url + path) as resp:
                html = await resp.text()
                assert resp.status == 200
                assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
                assert "__COURTYARD_" not in html
                assert "&quot;grab&quot;" in html and "Asia/Shanghai" in html
        async with s.get(console.url + "/workorders/static/tech.js") as resp:
            assert (resp.status, resp.content_type) == (200, "text/javascript")
        for name in ("tech.html", "..%2Fguard%2Fboard.js", "missing.js"):
            async with s.get(console.url + "/workorders/static/" + name) as resp:
                assert resp.status == 404, name
