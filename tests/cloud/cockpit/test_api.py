"""The cockpit API on SQLite and PostgreSQL: a site's view (every panel, titles, the clock),
a panel that fails does not blank the wall, the company view ranked by attention; and the
attacks: no permission, another site's view, another site in the company list, no login."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from cloud.cockpit.panels import registry
from cloud.cockpit.panels.registry import PanelContext, PanelSpec
from tests.cloud.cockpit import rows
from tests.support.auth import token_headers
from tests.support.console_app import Console, console_app

T0 = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)  # 14:30 Monday, Asia/Shanghai
MIDNIGHT = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 2026-12-08 00:00 in Shanghai
SITE = "/api/cockpit/sites/{}"
COMPANY = "/api/cockpit/company"


async def _seed_two(c: Console) -> None:
    """Site ``north``: 3 of 4 devices online, an edge reporting; ``south``: a critical alarm and
    an offline edge."""
    async with c.sessions() as s, s.begin():
        north = await rows.site(s, "north", name="北苑")
        south = await rows.site(s, "south", name="南苑", online=False)
        for key, kind, online in (("m1", "meter", True), ("m2", "meter", False),
                                  ("g1", "gate", True), ("d1", "door", True)):
            await rows.device(s, north.id, key, kind, online=online)
        await rows.health(s, north.id, T0 - timedelta(seconds=10), depth=7, oldest_age_s=42.25,
                          receivers={"heard": 2, "total": 3})
        rows.add_all(s, [rows.alarm(south.id, "critical", T0 - timedelta(hours=1))])


async def test_a_site_view_has_every_panel_in_order_with_titles(db_url: str) -> None:
    async with console_app(db_url, T0) as c:
        await _seed_two(c)
        lead = await token_headers(c.sessions, "operations_lead", ["north"])
        body = await c.call("GET", SITE.format("north"), lead, 200)
        assert body["site"] == {"slug": "north", "name": "北苑", "timezone": "Asia/Shanghai",
                                "online": True}
        assert (body["now"], body["day"]) == ("2026-12-07T06:30:00.000Z", "2026-12-07")
        assert body["order"][0] == "devices" and set(body["order"]) == set(body["panels"])
        for name in body["order"]:
            p = body["panels"][name]
            assert p["title_zh"] and p["title_en"] and isinstance(p["empty"], bool), name
            assert "error" not in p, (name, p)
        dev = body["panels"]["devices"]
        assert (dev["title_zh"], dev["empty"]) == ("设备在线", False)
        assert [(f["family"], f["online"], f["total"]) for f in dev["families"]] == [
            ("meter", 1, 2), ("gate", 1, 1), ("access", 1, 1), ("patrol_receiver", 2, 3)]
        assert dev["edge"] == {"online": True, "reported_at": "2026-12-07T06:29:50.000Z",
                               "outbox_depth": 7, "oldest_age_s": 42.2, "stale": False}
        # 61 s after the report, the console no longer vouches for it.
        c.clock.advance(51.5)
        dev = (await c.call("GET", SITE.format("north"), lead, 200))["panels"]["devices"]
        assert dev["edge"]["stale"] is True and dev["edge"]["outbox_depth"] == 7


async def test_the_site_day_turns_at_the_site_midnight(db_url: str) -> None:
    async with console_app(db_url, T0) as c:
        await _seed_two(c)
        async with c.sessions() as s, s.begin():
            east = await rows.site(s, "east")
            rows.add_all(s, [rows.alarm(east.id, "major", T0 - timedelta(hours=6))])
        lead = await token_headers(c.sessions, "operations_lead", ["east"])
        c.clock.advance((MIDNIGHT - T0).total_seconds() - 1)  # 23:59:59 in Shanghai
        body = await c.call("GET", SITE.format("east"), lead, 200)
        assert (body["day"], body["panels"]["alarms"]["today"]) == ("2026-12-07", 1)
        c.clock.advance(1)  # 00:00:00 on the 8th: yesterday's alarm joins the week
        body = await c.call("GET", SITE.format("east"), lead, 200)
        assert (body["day"], body["now"]) == ("2026-12-08", "2026-12-07T16:00:00.000Z")
        assert (body["panels"]["alarms"]["today"], body["panels"]["alarms"]["avg_7d"]) == (
            0, 0.1)


@pytest.fixture
def broken_panel() -> Iterator[None]:
    """A panel that fails in the database (PostgreSQL then refuses the transaction's next
    statement unless the view starts afresh), placed before every other."""
    async def broken(ctx: PanelContext) -> dict[str, Any]:
        await ctx.session.execute(text("SELECT * FROM no_such_cockpit_table"))
        return {"empty": False}

    spec = registry.register(PanelSpec("broken", "坏面板", "Broken", 1, broken))
    try:
        yield
    finally:
        registry._PANELS.pop(spec.name, None)


async def test_a_panel_that_fails_does_not_blank_the_wall(db_url: str,
                                                          broken_panel: None) -> None:
    async with console_app(db_url, T0) as c:
        await _seed_two(c)
        lead = await token_headers(c.sessions, "operations_lead", ["north"])
        body = await c.call("GET", SITE.format("north"), lead, 200)
        assert body["order"][0] == "broken"
        assert body["panels"]["broken"]["empty"] is True
        assert body["panels"]["broken"]["error"].startswith("面板暂时无法计算")
        assert body["panels"]["broken"]["title_zh"] == "坏面板"
        others = [n for n in body["order"] if n != "broken"]
        assert others and all("error" not in body["panels"][n] for n in others)
        assert body["panels"]["devices"]["families"][0]["total"] == 2


async def test_the_company_view_ranks_sites_by_attention(db_url: str) -> None:
    async with console_app(db_url, T0) as c:
        await _seed_two(c)
        admin = await token_headers(c.sessions, "admin")
        body = await c.call("GET", COMPANY, admin, 200)
        assert body["now"] == "2026-12-07T06:30:00.000Z"
        south, north = body["sites"]
        # south: a critical alarm (100) and an offline edge (50); north: its edge reported.
        assert (south["slug"], south["attention"], south["edge_stale"]) == ("south", 150, True)
        assert south["alarms_open"] == {"critical": 1, "major": 0, "minor": 0}
        assert (north["slug"], north["attention"], north["oldest_age_s"]) == ("north", 0, 42.25)
        assert body["totals"]["alarms_open"]["critical"] == 1
        assert body["totals"]["sites"] == 2 and body["totals"]["online"] == 1


# --- attacks ----------------------------------------------------------------------------------


async def test_who_may_not_read_the_cockpit_is_refused(db_url: str) -> None:
    async with console_app(db_url, T0) as c:
        await _seed_two(c)
        tech = await token_headers(c.sessions, "technician", ["north"])
        for path in (COMPANY, SITE.format("north")):
            await c.call("GET", path, tech, 403)
            await c.call("GET", path, {}, 401)


@pytest.mark.parametrize("role", ["operations_lead", "cockpit"])
async def test_site_a_sees_nothing_of_site_b(db_url: str, role: str) -> None:
    async with console_app(db_url, T0) as c:
        await _seed_two(c)
        a = await token_headers(c.sessions, role, ["north"])
        err = await c.call("GET", SITE.format("south"), a, 404)
        assert err["error"]["field"] == "site"
        missing = await c.call("GET", SITE.format("nowhere"), a, 404)
        assert missing["error"]["code"] == err["error"]["code"] == "not_found"
        body = await c.call("GET", COMPANY, a, 200)
        assert [s["slug"] for s in body["sites"]] == ["north"]
        assert body["totals"]["alarms_open"]["critical"] == 0  # south's alarm is not counted
        assert (await c.call("GET", SITE.format("north"), a, 200))["site"]["slug"] == "north"
