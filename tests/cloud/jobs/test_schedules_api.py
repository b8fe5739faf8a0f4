"""The schedules API: field errors name the field, finance creates and edits its site's
schedules (audited, next slot in the site's time), a guard cannot, another site's staff
neither see nor change them, a purge schedule is for administrators, and jobs are listed per
site with their state and error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from cloud.db.models import Site
from cloud.jobs.claim import enqueue
from tests.support.two_sites import SITE_A, SITE_B, TwoSites, two_sites


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[TwoSites]:
    async with two_sites(db_url) as w:
        yield w


async def test_finance_creates_and_edits_a_schedule_in_the_sites_time(world: TwoSites) -> None:
    clerk = await world.token("finance", [SITE_A])
    made = await clerk.call("POST", "/api/schedules", 201, {"site": SITE_A, "kind": "bill_run"})
    assert (made["spec"], made["enabled"]) == (
        {"time": "02:00", "day_of_month": 1, "cycle": "monthly"}, True)
    # now is 23 November 10:00 in Shanghai: the next run is 1 December 02:00 local
    assert made["next_due"] == "2026-11-30T18:00:00.000Z"
    assert made["next_due_local"].startswith("2026-12-01T02:00:00")
    changed = await clerk.call("PUT", f"/api/schedules/{made['id']}", 200,
                               {"spec": {"time": "06:30", "day_of_month": 5,
                                         "cycle": "monthly"}})
    assert changed["next_due"] == "2026-12-04T22:30:00.000Z"
    off = await clerk.call("PUT", f"/api/schedules/{made['id']}", 200, {"enabled": False})
    assert (off["enabled"], off["next_due"], off["spec"]["time"]) == (False, None, "06:30")
    listed = await clerk.call("GET", f"/api/schedules?site={SITE_A}")
    assert [s["id"] for s in listed["schedules"]] == [made["id"]]
    audit = await world.audit("schedule")
    assert [a.action for a in audit] == ["create", "update", "update"]
    assert audit[1].after == {"spec": {"time": "06:30", "day_of_month": 5, "cycle": "monthly"}}


@pytest.mark.parametrize(("body", "field"), [
    ({"spec": {"time": "24:00"}}, "spec.time"),
    ({"spec": {"time": "02:00", "day_of_month": 29}}, "spec.day_of_month"),
    ({"spec": {"time": "02:00", "cycle": "weekly"}}, "spec.cycle"),
    ({"spec": {"time": "02:00", "hour": 1}}, "spec.hour"),
    ({"spec": "02:00"}, "spec"),
    ({"enabled": "yes"}, "enabled"),
    ({"next_due": "2027-01-01"}, "next_due"),
])
async def test_a_bad_change_names_its_field(world: TwoSites, body: dict[str, object],
                                            field: str) -> None:
    made = await world.admin.call("POST", "/api/schedules", 201,
                                  {"site": SITE_A, "kind": "bill_run"})
    err = await world.admin.call("PUT", f"/api/schedules/{made['id']}", 400, body)
    assert err["error"]["field"] == field
    assert err["error"]["message"]


async def test_bad_creations_name_their_field(world: TwoSites) -> None:
    for body, status, field in [
            ({"site": SITE_A, "kind": "weekly"}, 400, "kind"),
            ({"kind": "reminders"}, 400, "site"),
            ({"site": SITE_A, "kind": "reminders", "spec": {"time": "9"}}, 400, "spec.time"),
            ({"site": "nowhere", "kind": "reminders"}, 404, "site")]:
        err = await world.admin.call("POST", "/api/schedules", status, body)
        assert err["error"]["field"] == field, body


async def test_a_guard_cannot_edit_and_other_sites_staff_see_nothing(world: TwoSites) -> None:
    mine = await world.admin.call("POST", "/api/schedules", 201,
                                  {"site": SITE_B, "kind": "reminders"})
    path = f"/api/schedules/{mine['id']}"
    guard = await world.token("guard", [SITE_B])
    await guard.call("GET", f"/api/schedules?site={SITE_B}", 403)
    await guard.call("PUT", path, 403, {"enabled": False})
    await guard.call("POST", "/api/schedules", 403, {"site": SITE_B, "kind": "late_fees"})
    lead = await world.token("operations_lead", [SITE_B])  # reads, does not edit
    assert len((await lead.call("GET", "/api/schedules"))["schedules"]) == 1
    await lead.call("PUT", path, 403, {"enabled": False})
    other = await world.staff("clerk-a", "finance", [SITE_A])
    assert (await other.call("GET", "/api/schedules"))["schedules"] == []
    await other.call("GET", f"/api/schedules?site={SITE_B}", (403, 404))
    await other.call("PUT", path, 404, {"enabled": False})
    await other.call("POST", "/api/schedules", 404, {"site": SITE_B, "kind": "late_fees"})
    unchanged = await world.admin.call("GET", f"/api/schedules?site={SITE_B}")
    assert [s["enabled"] for s in unchanged["schedules"]] == [True]
    assert [a.action for a in await world.audit("schedule")] == ["create"]


async def test_purge_schedules_are_for_administrators(world: TwoSites) -> None:
    clerk = await world.token("finance", [SITE_A])
    err = await clerk.call("POST", "/api/schedules", 403, {"site": SITE_A, "kind": "purge"})
    assert err["error"]["field"] == "kind"
    made = await world.admin.call("POST", "/api/schedules", 201,
                                  {"site": SITE_A, "kind": "purge"})
    await clerk.call("PUT", f"/api/schedules/{made['id']}", 403, {"enabled": False})
    assert made["spec"] == {"time": "03:30"}


async def test_jobs_are_listed_per_site_with_state_and_error(world: TwoSites) -> None:
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    async with world.sessions() as session, session.begin():
        from sqlalchemy import select

        ids = dict((await session.execute(select(Site.slug, Site.id))).all())
        for slug in (SITE_A, SITE_B):
            await enqueue(session, kind="late_fees", key=f"{slug}:1", site_id=ids[slug],
                          payload={"as_of": "2026-11-23"}, now=now)
    clerk = await world.token("finance", [SITE_A])
    jobs = (await clerk.call("GET", "/api/jobs"))["jobs"]
    assert [(j["site"], j["kind"], j["key"]) for j in jobs] == [
        (SITE_A, "late_fees", f"{SITE_A}:1")]
    assert (await clerk.call("GET", "/api/jobs?kind=bill_run"))["jobs"] == []
    await clerk.call("GET", f"/api/jobs?site={SITE_B}", (403, 404))
    err = await clerk.call("GET", "/api/jobs?state=lost", 400)
    assert err["error"]["field"] == "state"
    everyone = (await world.admin.call("GET", "/api/jobs"))["jobs"]
    assert {j["site"] for j in everyone} == {SITE_A, SITE_B}
