"""``GET /api/retention`` and ``PUT /api/retention/{site}/{class}`` on PostgreSQL: only an
administrator sets a window, never below the class's minimum, for their own sites, audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.support.two_sites import SITE_A, SITE_B, TwoSites, two_sites


@pytest.fixture
async def world(pg_url: str) -> AsyncIterator[TwoSites]:
    async with two_sites(pg_url) as w:
        yield w


def _window(doc: dict[str, object], site: str, cls: str) -> dict[str, object]:
    sites = doc["sites"]
    assert isinstance(sites, list)
    (entry,) = [s for s in sites if s["site"] == site]
    (w,) = [w for w in entry["windows"] if w["class"] == cls]
    assert isinstance(w, dict)
    return w


async def test_defaults_then_a_site_override_and_the_company_default(world: TwoSites) -> None:
    doc = await world.admin.call("GET", "/api/retention")
    w = _window(doc, SITE_A, "plate_images")
    assert (w["days"], w["default_days"], w["source"]) == (30, 30, "default")
    assert w["reason_en"] and w["reason_zh"] and w["min_days"] == 7

    admin = await world.staff("boss", "admin", None, name="王总")
    got = await admin.call("PUT", f"/api/retention/{SITE_A}/access_log", 200, {"days": 90})
    assert (got["days"], got["source"]) == (90, "site")
    await admin.call("PUT", "/api/retention/_company/access_log", 200, {"days": 270})
    await admin.call("PUT", f"/api/retention/{SITE_A}/access_log", 200, {"days": 100})
    doc = await admin.call("GET", "/api/retention")
    assert (_window(doc, SITE_A, "access_log")["days"],
            _window(doc, SITE_A, "access_log")["source"]) == (100, "site")
    assert (_window(doc, SITE_B, "access_log")["days"],
            _window(doc, SITE_B, "access_log")["source"]) == (270, "company")
    assert [c["days"] for c in doc["company"] if c["class"] == "access_log"] == [270]

    audit = await world.audit("retention_window")
    assert [(a.action, a.entity_id, a.actor_name, a.before, a.after) for a in audit] == [
        ("create", f"{SITE_A}/access_log", "王总", None, {"days": 90}),
        ("create", "_company/access_log", "王总", None, {"days": 270}),
        ("update", f"{SITE_A}/access_log", "王总", {"days": 90}, {"days": 100}),
    ]


async def test_days_below_the_minimum_or_not_whole_are_refused_naming_days(
        world: TwoSites) -> None:
    for body in ({"days": 6}, {"days": "30"}, {"days": 30.5}, {"days": True}, {}):
        got = await world.admin.call("PUT", f"/api/retention/{SITE_A}/plate_images", 400, body)
        assert got["error"]["field"] == "days", body
    got = await world.admin.call("PUT", f"/api/retention/{SITE_A}/plate_images", 400,
                                 {"days": 6})
    assert "7" in got["error"]["message"]
    got = await world.admin.call("PUT", f"/api/retention/{SITE_A}/plate_images", 400,
                                 {"days": 30, "site": SITE_B})
    assert got["error"]["field"] == "site"
    await world.admin.call("PUT", f"/api/retention/{SITE_A}/no_such_class", 404, {"days": 30})
    assert await world.audit("retention_window") == []


async def test_only_an_admin_of_the_site_sets_a_window(world: TwoSites) -> None:
    for role in ("operations_lead", "finance", "customer_service", "guard"):
        caller = await world.staff(f"u-{role}", role, None)
        await caller.call("PUT", f"/api/retention/{SITE_A}/access_log", 403, {"days": 90})
        await caller.call("GET", "/api/retention", 403)
    site_a_admin = await world.token("admin", [SITE_A])
    await site_a_admin.call("PUT", f"/api/retention/{SITE_B}/access_log", 404, {"days": 90})
    # the company default is every site's: refused (the scope middleware answers 404 first)
    await site_a_admin.call("PUT", "/api/retention/_company/access_log", (403, 404),
                            {"days": 90})
    doc = await site_a_admin.call("GET", "/api/retention")
    assert [s["site"] for s in doc["sites"]] == [SITE_A]
    assert await world.audit("retention_window") == []
    await site_a_admin.call("PUT", f"/api/retention/{SITE_A}/access_log", 200, {"days": 90})
    assert len(await world.audit("retention_window")) == 1


async def test_two_admins_setting_a_new_window_at_once_both_succeed_on_one_row(
        world: TwoSites) -> None:
    for cls in ("access_log", "plate_reads", "patrol_traces", "view_audit"):
        await asyncio.gather(
            world.admin.call("PUT", f"/api/retention/{SITE_A}/{cls}", 200, {"days": 400}),
            world.admin.call("PUT", f"/api/retention/{SITE_A}/{cls}", 200, {"days": 500}))
        doc = await world.admin.call("GET", "/api/retention")
        assert _window(doc, SITE_A, cls)["days"] in (400, 500)
    assert len(await world.audit("retention_window")) == 8
