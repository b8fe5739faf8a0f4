"""The guard board in a real Chromium against the real console, in the console shell.

A fire played the way the edge's batches arrive (the detector, the panel's own report, a
manual call point, a repeat, and the edge's linkage reports) is ONE card on the guard's board
with each event and its time; the guard login clears it with 确认 then 解除 (a double-click acts
once), every alarm of the incident is resolved by that login (checked through the API), and the
board keeps saying the barriers are still held open at the edge and where to reset them. A
board whose console goes away says so and catches up when it returns (SQLite and PostgreSQL).

``COURTYARD_SCREENSHOTS=1`` saves the board with the fire card at 1920×1080 and 390×844 to
docs/screenshots/.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.lifecycle import act
from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.settings import Settings
from contract import Batch, Envelope, SystemClock, encode_batch, priority_for, topics
from tests.browser.conftest import checked_page, raw_codes
from tests.support.auth import browser_login, create_staff
from tests.support.epochs import TEST_EPOCH
from tests.support.services import free_port
from tests.support.staff_console import PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

SITE = "demo"
#: The acceptance criterion: ingest → on the guard's screen.
ON_SCREEN_MS = 2000
#: Reconnecting after the console returns: the board's backoff is at most a few seconds here.
RECONNECT_MS = 15000
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
MAX_SHOT_BYTES = 300_000


def fire_alarm(*, zone: int | None = 3, position: int | None = 12, area: str = "东侧走廊",
               description: str = "三楼电梯厅烟感", repeat: bool = False) -> dict[str, Any]:
    """``fire.alarm`` data as the GB/T 26875.3 driver emits it (``zone`` None: the panel's own
    system-level report, without a place)."""
    data: dict[str, Any] = {
        "v": 1, "uitd": "uitd-1", "serial": 7, "scope": "component", "event_time": None,
        "system_type": 1, "system_type_name": {"zh": "火灾报警系统", "en": "fire alarm system"},
        "system_address": 1, "component_type": 40,
        "component_type_name": {"zh": "点型感烟火灾探测器", "en": "point smoke detector"},
        "zone": zone, "position": position, "status": 3, "states": ["fire"],
        "test_mode": False, "description": description,
        "location": {"building": "1栋", "floor": "3层", "area": area},
        "location_text": f"1栋3层 {area}",
        "condition": "fire", "condition_name": {"zh": "火警", "en": "fire alarm"},
        "repeat": repeat, "cleared": [],
        "message": f"火警：1栋3层 {area} / Fire alarm: 1栋3层 {area}",
    }
    if zone is None:
        for key in ("zone", "position", "component_type", "component_type_name", "location",
                    "location_text"):
            data.pop(key)
        data["scope"] = "system"
    return data


class Edge:
    """Batches into the console's ingest path, the way a site's edge sends them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], site: str) -> None:
        self.ingestor = Ingestor(sessions, SystemClock(), default_registry())
        self.site = site
        self.seq = 0

    def event(self, kind: str, data: dict[str, Any], device: str = "uitd-1") -> Envelope:
        self.seq += 1
        return Envelope(seq=self.seq, id=str(uuid.uuid4()), ts=datetime.now(UTC), device=device,
                        kind=kind, data=data, priority=priority_for(kind))

    async def send(self, *events: Envelope) -> None:
        result = await self.ingestor.handle(topics.up_events(self.site), encode_batch(
            Batch(epoch=TEST_EPOCH, site=self.site, events=list(events))))
        assert result.ok, result

    async def ingest(self, kind: str, data: dict[str, Any], device: str = "uitd-1") -> None:
        await self.send(self.event(kind, data, device))

    async def fire(self) -> None:
        """The demo's fire: detector, panel, call point, a repeat; the edge's linkage."""
        detector = self.event("fire.alarm", fire_alarm())
        await self.send(detector)
        await self.ingest("fire.alarm", fire_alarm(zone=None, description="火灾报警系统火警"))
        await self.ingest("fire.alarm", fire_alarm(zone=3, position=30, area="电梯厅",
                                                   description="三楼手动报警按钮"))
        incident = str(uuid.uuid4())
        await self.send(
            self.event("linkage.triggered", {
                "v": 1, "incident": incident, "rule": "default", "cause_event": detector.id,
                "building": "1栋", "actions": [], "message": "火警联动启动 / fire linkage"},
                device="linkage"),
            self.event("linkage.action", {
                "v": 1, "incident": incident, "rule": "default", "cause_event": detector.id,
                "action": "raise_gate", "target": "gate-out-1", "building": None,
                "result": "ok", "detail": "道闸已抬起并保持常开 / gate raised and held open"},
                device="linkage"))
        await self.ingest("fire.alarm", fire_alarm(repeat=True))


async def guard_name(staff: StaffConsole) -> str:
    """The name the guard login's actions are recorded under (its display name)."""
    [guard] = [u for u in (await staff.get("/api/staff"))["staff"] if u["username"] == "guard"]
    return str(guard["display_name"] or guard["username"])


async def shoot(page: Page, name: str) -> None:
    assert await raw_codes(page) == [], f"a stored code on the board ({name})"
    if os.environ.get("COURTYARD_SCREENSHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    await page.screenshot(path=str(path), type="png")
    assert path.stat().st_size < MAX_SHOT_BYTES, (name, path.stat().st_size)


async def test_a_fire_is_one_card_the_guard_clears_in_two_clicks_and_the_linkage_stays(
        staff: StaffConsole, browser: Browser) -> None:
    from playwright.async_api import expect

    edge = Edge(staff.sessions, "sunny")
    async with checked_page(browser, 1920, 1080) as wall, \
            checked_page(browser, 390, 844) as phone:
        for page in (wall, phone):
            await browser_login(page, staff.url, "guard", PASSWORD, then="/guard")
            await expect(page.locator("#conn")).to_have_text(re.compile("已连接"))
            await expect(page.locator(".cy-crumbs")).to_contain_text("保安看板")
            await expect(page.locator(".cy-who")).to_contain_text(await guard_name(staff))
            await expect(page.locator("#guard-name")).to_have_count(0)

        await edge.fire()
        alarms = (await staff.get("/api/alarms?site=sunny"))["alarms"]
        assert len(alarms) == 3 and len({a["incident"] for a in alarms}) == 1
        for page in (wall, phone):
            card = page.locator("li.incident")
            await expect(card).to_have_count(1)
            await expect(card.locator(".events li")).to_have_count(3)
            await expect(card.locator(".count")).to_have_text("4 次")
            await expect(card.locator(".sev")).to_have_text("紧急")
            await expect(card.locator(".state")).to_have_text("未处理")
            await expect(card.locator(".loc")).to_have_text("1栋3层 东侧走廊")
            await expect(card.locator(".events")).to_contain_text("三楼手动报警按钮")
            await expect(card.locator(".events")).to_contain_text("×2")
            linkage = page.locator("#linkage")
            await expect(linkage).to_contain_text("消防联动仍在进行")
            await expect(linkage).to_contain_text("道闸常开 gate-out-1：已执行")
            await expect(linkage).to_contain_text("9180")
            # Times in the site's time zone, never ISO.
            assert "T" not in (await card.locator(".events time").first.text_content() or "T")
        await expect(phone.get_by_role("button", name="解除", exact=True)).to_be_in_viewport()
        for page in (wall, phone):  # after the new-alarm flash
            await expect(page.locator("li.incident")).not_to_have_class(re.compile("fresh"))
        await shoot(wall, "guard-board-1920.png")
        await shoot(phone, "guard-board-390.png")

        card = wall.locator("li.incident")
        await card.get_by_role("button", name="确认", exact=True).click()
        await expect(card.locator(".state")).to_have_text("已确认")
        for a in (await staff.get("/api/alarms?site=sunny"))["alarms"]:
            assert (a["state"], a["acknowledged_by"]) == ("acknowledged", await guard_name(staff))
        await expect(phone.locator("li.incident .state")).to_have_text("已确认")

        await card.get_by_role("button", name="解除", exact=True).dblclick()
        for page in (wall, phone):
            await expect(page.locator("li.incident")).to_have_count(0)
            await expect(page.locator("#empty")).to_be_visible()
        for a in (await staff.get("/api/alarms?site=sunny"))["alarms"]:
            assert (a["state"], a["resolved_by"]) == ("resolved", await guard_name(staff)), a
            history = (await staff.get(f"/api/alarms/{a['id']}"))["history"]
            assert [h["action"] for h in history].count("resolve") == 1  # the dblclick: once
        # The console's alarms are closed; the barrier is still held at the edge, and the
        # board says so and where to reset it.
        await expect(wall.locator("#linkage")).to_contain_text("消防联动仍在进行")
        await expect(wall.locator("#linkage .where")).to_contain_text("reset_linkage")


async def test_start_then_a_false_alarm_that_needs_a_note_in_english_too(
        staff: StaffConsole, browser: Browser) -> None:
    from playwright.async_api import expect

    edge = Edge(staff.sessions, "sunny")
    async with checked_page(browser, 1280, 800) as page:
        await browser_login(page, staff.url, "guard", PASSWORD, then="/guard")
        await expect(page.locator("#conn")).to_have_text(re.compile("已连接"))
        await page.click("#cy-lang")  # the language switch: English for this browser
        await expect(page.locator("#conn")).to_have_text(re.compile("Live"))
        await edge.ingest("fire.alarm", fire_alarm())
        card = page.locator("li.incident")
        await expect(card).to_have_count(1, timeout=ON_SCREEN_MS)
        await expect(card.locator(".sev")).to_have_text("Critical")
        await expect(card.locator(".state")).to_have_text("Open")
        await card.get_by_role("button", name="Start", exact=True).click()
        await expect(card.locator(".state")).to_have_text("In progress")
        [started] = (await staff.get("/api/alarms?site=sunny"))["alarms"]
        assert (started["state"], started["acknowledged_by"]) == (
            "in_progress", await guard_name(staff))
        await card.locator(".note").fill("  ")
        await card.get_by_role("button", name="False alarm", exact=True).click()
        await expect(card.locator(".error")).to_contain_text("needs a note")
        await expect(card).to_have_count(1)
        await card.locator(".note").fill("厨房油烟误报")
        await card.get_by_role("button", name="False alarm", exact=True).click()
        await expect(card).to_have_count(0)
    [alarm] = (await staff.get("/api/alarms?site=sunny"))["alarms"]
    assert (alarm["state"], alarm["resolved_by"], alarm["note"]) == (
        "false_alarm", await guard_name(staff), "厨房油烟误报")


# --- a board whose console goes away (both engines) ------------------------------------------


class Console:
    """The console's web app on a real port, which a test may stop and start again."""

    def __init__(self, db_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.db_url = db_url
        self.sessions = sessions
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.edge = Edge(sessions, SITE)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = create_app(Settings(database_url=self.db_url), self.sessions, SystemClock())
        # A short grace period: the live feed's WebSockets never finish on their own.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


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


async def test_the_board_shows_a_lost_console_and_catches_up_when_it_returns(
        console: Console, browser: Browser) -> None:
    from playwright.async_api import expect

    await create_staff(console.sessions, "guard-1", "guard-password", "guard", sites=[SITE])
    async with checked_page(browser, 1920, 1080) as board:
        await browser_login(board, console.url, "guard-1", "guard-password", then="/guard")
        await expect(board.locator("#conn")).to_have_text(re.compile("已连接"))
        await console.edge.ingest("fire.alarm", fire_alarm())
        first = board.locator("li.incident", has_text="1栋3层 东侧走廊")
        await expect(first).to_be_visible(timeout=ON_SCREEN_MS)
        async with console.sessions() as session:
            from sqlalchemy import select

            from cloud.alarms.tables import Alarm
            alarm_id = (await session.scalars(select(Alarm.id))).one()
        banner = board.locator("#banner")
        await expect(banner).to_be_hidden()

        await console.stop()
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("连接中断")

        # While the board is cut off: the first alarm is resolved, an elevator traps someone.
        await act(console.sessions, alarm_id, "resolve", "王五", None, datetime.now(UTC))
        await console.edge.ingest("elevator.trapped", {"v": 1, "building": "2", "floor": 5,
                                                       "name": "2号梯"}, device="elev-2-a")

        await console.start()
        await expect(banner).to_be_hidden(timeout=RECONNECT_MS)
        await expect(board.locator("li.incident", has_text="电梯困人")).to_be_visible()
        await expect(first).to_have_count(0)
        await expect(board.locator("li.incident")).to_have_count(1)
