"""The guard board in a real Chromium against the real console: a fire alarm ingested the way
the edge's batches arrive shows up on the board with its place within 2 s (the acceptance
criterion of issue 4), a guard acknowledges and resolves it from the board, repeats fold into
a count, and a board whose console goes away says so and catches up when it returns.

Runs on SQLite (in-process notifications) and PostgreSQL (LISTEN/NOTIFY) through ``db_url``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.board import add_board_routes
from cloud.alarms.lifecycle import act
from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.settings import Settings
from contract import Batch, Envelope, SystemClock, encode_batch, priority_for, topics
from tests.support.auth import admin_headers, browser_login, create_staff
from tests.support.epochs import TEST_EPOCH
from tests.support.services import free_port

if TYPE_CHECKING:
    from playwright.async_api import Browser, Locator, Page

SITE = "demo"
#: The acceptance criterion: ingest → on the guard's screen.
ON_SCREEN_MS = 2000
#: Reconnecting after the console returns: the board's backoff is at most a few seconds here.
RECONNECT_MS = 15000


def fire_alarm(*, zone: int = 3, position: int = 12, area: str = "东侧走廊",
               repeat: bool = False) -> dict[str, Any]:
    """``fire.alarm`` data as the GB/T 26875.3 driver emits it for a smoke detector."""
    return {
        "v": 1, "uitd": "uitd-1", "serial": 7, "scope": "component", "event_time": None,
        "system_type": 1, "system_type_name": {"zh": "火灾报警系统", "en": "fire alarm system"},
        "system_address": 1, "component_type": 40,
        "component_type_name": {"zh": "点型感烟火灾探测器", "en": "point smoke detector"},
        "zone": zone, "position": position, "component_address": zone * 256 + position,
        "status": 3, "states": ["fire"], "test_mode": False, "description": "三楼电梯厅烟感",
        "location": {"building": "1栋", "floor": "3层", "area": area},
        "location_text": f"1栋3层 {area}",
        "condition": "fire", "condition_name": {"zh": "火警", "en": "fire alarm"},
        "repeat": repeat, "cleared": [],
        "message": f"火警：1栋3层 {area} / Fire alarm: 1栋3层 {area}",
    }


class Console:
    """The console's web app on a real port, which a test may stop and start again, and the
    ingest path the edge's batches take."""

    def __init__(self, db_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.db_url = db_url
        self.sessions = sessions
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.clock = SystemClock()
        self.ingestor = Ingestor(sessions, self.clock, default_registry())
        self.seq = 0
        self._runner: web.AppRunner | None = None
        self._headers: dict[str, str] | None = None

    async def start(self) -> None:
        app = create_app(Settings(database_url=self.db_url), self.sessions, self.clock)
        if not any(r.name == "guard_board" for r in app.router.routes()):
            add_board_routes(app)
        # A short grace period: the live feed's WebSockets never finish on their own.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def ingest(self, kind: str, data: dict[str, Any], device: str = "uitd-1") -> None:
        self.seq += 1
        env = Envelope(seq=self.seq, id=str(uuid.uuid4()), ts=datetime.now(UTC), device=device,
                       kind=kind, data=data, priority=priority_for(kind))
        result = await self.ingestor.handle(
            topics.up_events(SITE), encode_batch(Batch(epoch=TEST_EPOCH, site=SITE, events=[env])))
        assert result.ok, result

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self._headers is None:
            self._headers = await admin_headers(self.sessions)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5),
                                         headers=self._headers) as s, \
                s.request(method, self.url + path, json=body) as resp:
            return resp.status, await resp.json()

    async def only_alarm(self) -> dict[str, Any]:
        status, body = await self.api("GET", f"/api/alarms?site={SITE}")
        assert status == 200, body
        assert len(body["alarms"]) == 1, body
        return dict(body["alarms"][0])


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    c = Console(db_url, session_factory(engine))
    await c.start()
    try:
        yield c
    finally:
        await c.stop()
        await engine.dispose()


@pytest.fixture
async def board(browser: Browser, console: Console) -> AsyncIterator[Page]:
    """The board of site ``demo``, connected (live) before the test goes on."""
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1920, "height": 1080},
                                        locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await create_staff(console.sessions, "guard-1", "guard-password", "guard", sites=[SITE])
    await browser_login(page, console.url, "guard-1", "guard-password",
                        then=f"/guard?site={SITE}")
    await expect(page.locator("#conn")).to_have_text(re.compile("已连接"))
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"script errors on the page: {errors}"


def card(page: Page, text: str) -> Locator:
    return page.locator("li.alarm", has_text=text)


async def test_a_fire_alarm_is_on_the_board_within_2_s_and_a_guard_acknowledges_it(
        console: Console, board: Page) -> None:
    from playwright.async_api import expect

    await board.get_by_role("button", name="全屏 / Full screen").click()
    await expect(board.locator("#fullscreen")).to_have_text(re.compile("退出全屏"))
    assert await board.evaluate("document.fullscreenElement !== null")
    await board.get_by_role("button", name="点击启用声音").click()
    await expect(board.locator("#sound")).to_have_text(re.compile("声音已开启 / sound on"))
    await expect(board.locator("#empty")).to_be_visible()

    await console.ingest("fire.alarm", fire_alarm())
    alarm = card(board, "1栋3层 东侧走廊")
    await expect(alarm).to_be_visible(timeout=ON_SCREEN_MS)
    await expect(alarm.locator(".title")).to_have_text("火警 Fire alarm")
    await expect(alarm.locator(".state")).to_have_text("未确认 / Open")
    await expect(alarm).to_have_attribute("data-severity", "critical")
    await expect(alarm.locator(".evidence")).to_contain_text("三楼电梯厅烟感")
    await expect(alarm.locator(".evidence")).to_contain_text("点型感烟火灾探测器")
    await expect(alarm.locator(".evidence")).to_contain_text("uitd-1")
    assert "critical" in await board.evaluate("GuardSounds.played"), "the fire alarm sounded"
    await expect(board.locator("#n-open")).to_have_text("1")

    # Acknowledging needs the guard's name; once given it is remembered across reloads.
    await alarm.get_by_role("button", name="确认 / Acknowledge").click()
    await expect(alarm.locator(".error")).to_contain_text("值班员")
    await board.locator("#guard-name").fill("张三")
    await alarm.get_by_role("button", name="确认 / Acknowledge").click()
    await expect(alarm.locator(".state")).to_have_text("已确认 / Acknowledged")
    await expect(alarm.locator(".times")).to_contain_text("张三")
    got = await console.only_alarm()
    assert (got["state"], got["acknowledged_by"]) == ("acknowledged", "张三")

    await board.reload()
    await expect(board.locator("#guard-name")).to_have_value("张三")
    await expect(card(board, "1栋3层 东侧走廊").locator(".state")).to_have_text(
        "已确认 / Acknowledged")


async def test_repeats_fold_into_a_count_badge_on_one_card(
        console: Console, board: Page) -> None:
    from playwright.async_api import expect

    await console.ingest("fire.alarm", fire_alarm())
    alarm = card(board, "1栋3层 东侧走廊")
    await expect(alarm).to_be_visible(timeout=ON_SCREEN_MS)
    await expect(alarm.locator(".count")).to_be_hidden()
    await console.ingest("fire.alarm", fire_alarm(repeat=True))
    await console.ingest("fire.alarm", fire_alarm(repeat=True))
    await expect(alarm.locator(".count")).to_have_text("×3", timeout=ON_SCREEN_MS)
    await expect(board.locator("li.alarm")).to_have_count(1)
    assert (await console.only_alarm())["count"] == 3

    # Another detector is another alarm, and the newest is on top.
    await console.ingest("fire.alarm", fire_alarm(zone=4, position=2, area="西侧楼梯间"))
    await expect(board.locator("li.alarm")).to_have_count(2, timeout=ON_SCREEN_MS)
    await expect(board.locator("li.alarm").first).to_contain_text("1栋3层 西侧楼梯间")


async def test_closing_an_alarm_needs_a_note_and_takes_it_off_the_board(
        console: Console, board: Page) -> None:
    from playwright.async_api import expect

    await board.locator("#guard-name").fill("李四")
    await console.ingest("fire.alarm", fire_alarm())
    alarm = card(board, "1栋3层 东侧走廊")
    await expect(alarm).to_be_visible(timeout=ON_SCREEN_MS)
    await alarm.get_by_role("button", name="开始处理 / Start").click()
    await expect(alarm.locator(".state")).to_have_text("处理中 / In progress")
    await expect(alarm.get_by_role("button", name="确认 / Acknowledge")).to_be_hidden()

    await alarm.get_by_role("button", name="已解决 / Resolve").click()
    await expect(alarm.locator(".error")).to_contain_text("备注")
    await expect(alarm).to_be_visible()
    await alarm.locator(".note").fill("厨房油烟，已复位 / kitchen smoke, reset")
    await alarm.get_by_role("button", name="已解决 / Resolve").click()
    await expect(alarm).to_have_count(0)
    await expect(board.locator("#empty")).to_be_visible()
    got = await console.only_alarm()
    assert (got["state"], got["resolved_by"]) == ("resolved", "李四")
    assert got["note"] == "厨房油烟，已复位 / kitchen smoke, reset"


async def test_the_board_shows_a_lost_console_and_catches_up_when_it_returns(
        console: Console, board: Page) -> None:
    from playwright.async_api import expect

    await console.ingest("fire.alarm", fire_alarm())
    first = card(board, "1栋3层 东侧走廊")
    await expect(first).to_be_visible(timeout=ON_SCREEN_MS)
    alarm_id = (await console.only_alarm())["id"]
    banner = board.locator("#banner")
    await expect(banner).to_be_hidden()

    await console.stop()
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("连接中断 / disconnected")

    # While the board is cut off: the first alarm is resolved, another detector goes off.
    await act(console.sessions, alarm_id, "resolve", "王五", "误触 / touched by mistake",
              datetime.now(UTC))
    await console.ingest("fire.alarm", fire_alarm(zone=5, position=1, area="地下车库"))

    await console.start()
    await expect(banner).to_be_hidden(timeout=RECONNECT_MS)
    await expect(card(board, "1栋3层 地下车库")).to_be_visible()
    await expect(first).to_have_count(0)
    await expect(board.locator("li.alarm")).to_have_count(1)
