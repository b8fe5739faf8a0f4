"""The guard board's command buttons in a real Chromium against a console whose command link
runs on a real Mosquitto with the production ACL (PostgreSQL).

While the edge reports fire linkage active at 阳光花园, the linkage card offers 复位联动 and,
for the barrier the linkage holds open, 落闸. The guard double-clicks 复位联动: ONE
``linkage.reset`` reaches the site's ``down/cmd`` with the guard's name as ``issued_by``, the
button stays disabled and shows the command's state, and when the test (as the site's edge)
replies ``ok`` the board says 已执行. A refused 落闸 says 被拒绝 with the edge's reason. Both are
checked through the API. Without a broker the card keeps the old text (test_guard_board).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

import aiomqtt

from contract import topics
from contract.commands import CommandResult
from tests.browser.command_rig import SITE, SITE_SECRET, Rig, next_commands
from tests.browser.conftest import checked_page, raw_codes
from tests.browser.test_guard_board import Edge, guard_name
from tests.support.auth import browser_login
from tests.support.staff_console import PASSWORD, StaffConsole

if TYPE_CHECKING:
    from playwright.async_api import Browser



async def linkage_active(staff: StaffConsole) -> None:
    """The edge's report: a fire's linkage holds the exit barrier open at 阳光花园."""
    edge = Edge(staff.sessions, SITE)
    incident = str(uuid.uuid4())
    await edge.send(
        edge.event("linkage.triggered", {
            "v": 1, "incident": incident, "rule": "default", "cause_event": str(uuid.uuid4()),
            "building": "1栋", "actions": [], "message": "火警联动启动 / fire linkage"},
            device="linkage"),
        edge.event("linkage.action", {
            "v": 1, "incident": incident, "rule": "default", "cause_event": str(uuid.uuid4()),
            "action": "raise_gate", "target": "gate-out-1", "building": None, "result": "ok",
            "detail": "道闸已抬起并保持常开 / gate raised and held open"}, device="linkage"))


async def test_the_guard_resets_linkage_from_the_board_and_sees_the_edges_answer(
        rig: Rig, browser: Browser) -> None:
    from playwright.async_api import expect

    staff = rig.staff
    await linkage_active(staff)
    async with aiomqtt.Client("127.0.0.1", rig.broker.port, username=SITE, password=SITE_SECRET,
                              identifier="edge-sunny", timeout=5) as edge, \
            checked_page(browser, 1920, 1080) as page:
        await edge.subscribe(topics.down_filter(SITE), qos=1)
        await browser_login(page, staff.url, "guard", PASSWORD, then="/guard")
        card = page.locator("#linkage")
        await expect(card).to_contain_text("消防联动仍在进行")
        reset = card.get_by_role("button", name="复位联动", exact=True)
        close = card.get_by_role("button", name="落闸 gate-out-1", exact=True)
        await expect(reset).to_be_enabled()
        await expect(close).to_be_enabled()
        await expect(card).not_to_contain_text("9180")  # the channel replaces the old text

        await reset.dblclick()  # one command however often it is clicked
        [sent] = await next_commands(edge, 2.0)
        assert (sent["kind"], sent["args"], sent["issued_by"]) == (
            "linkage.reset", {}, await guard_name(staff))
        await expect(card.locator(".cmd-state").first).to_have_text("已下发")
        await expect(reset).to_be_disabled()  # in flight until the edge answers
        [stored] = (await staff.get(f"/api/sites/{SITE}/commands"))["commands"]
        assert (stored["cmd_id"], stored["state"]) == (sent["cmd_id"], "sent")

        await rig.reply(sent["cmd_id"], CommandResult.OK, "联动已复位 / linkage reset")
        await expect(card.locator(".cmd-state").first).to_have_text("已执行")
        await expect(reset).to_be_enabled()
        done = await staff.get(f"/api/sites/{SITE}/commands/{stored['id']}")
        assert (done["state"], done["result"]) == ("done", "ok")

        await close.click()
        [lower] = await next_commands(edge, 2.0)
        assert (lower["kind"], lower["args"]) == ("gate.close", {"gate": "gate-out-1"})
        await rig.reply(lower["cmd_id"], CommandResult.REFUSED,
                        "消防联动保持中 / held open by the fire linkage")
        state = card.locator(".cmd-item", has=page.get_by_role(
            "button", name="落闸 gate-out-1", exact=True)).locator(".cmd-state")
        await expect(state).to_have_text("被拒绝（消防联动保持中）")
        assert await raw_codes(page) == []
        listed = (await staff.get(f"/api/sites/{SITE}/commands"))["commands"]
        assert [(c["kind"], c["state"]) for c in listed] == [
            ("gate.close", "refused"), ("linkage.reset", "done")]

        # In English the same card reads in English.
        await page.evaluate("localStorage.setItem('cy.lang', 'en')")
        await page.reload()
        await expect(page.locator("#linkage").get_by_role(
            "button", name="Reset linkage", exact=True)).to_be_visible()
        await expect(page.locator("#linkage")).to_contain_text(re.compile("Close barrier"))
