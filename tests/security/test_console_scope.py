"""Staff of one community act only there, and only as who they are.

Each test is an attack by site-A (``north``) staff on site B (``south``), or by a technician
posing as someone else, performed against the real console, and shown to change nothing.
The last test walks the whole route table: every route that names a site (in its path, its
query or its body) or a record of a site is tried by site-A staff of the strongest role
against site B, and must answer 403 or 404; a route missing from the table fails the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud.maintenance.store import plan_to_json
from cloud.rules.tables import RuleSetVersion
from cloud.workorders.tables import Technician, WorkOrder
from tests.security.console_routes import ALSO_REFUSED, TABLE
from tests.support.two_sites import SITE_A, SITE_B, TwoSites, two_sites

DAY = 86400


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[TwoSites]:
    async with two_sites(db_url) as w:
        yield w


async def _orders_at(world: TwoSites, slug: str) -> int:
    from cloud.db.models import Site

    async with world.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(WorkOrder).join(
            Site, Site.id == WorkOrder.site_id).where(Site.slug == slug))).scalar_one())


def _elevator_plan() -> dict[str, Any]:
    from cloud.maintenance.loader import load_plans
    from tests.support.procs import REPO

    plan = next(p for p in load_plans(REPO / "configs/maintenance/plans.yaml")
                if p.id == "elevator-tsg-t5002")
    return plan_to_json(plan)


# --- maintenance generation -----------------------------------------------------------------


async def test_a_lead_of_site_a_cannot_generate_maintenance_orders_at_site_b(
        world: TwoSites) -> None:
    for slug in (SITE_A, SITE_B):
        await world.admin.call("POST", "/api/assets", 201, {
            "site": slug, "code": "EL-1", "kind": "elevator", "name": "1 号梯",
            "install_date": "2020-05-01"})
        await world.admin.call("POST", "/api/maintenance-plans", 201,
                               {"site": slug, "plan": _elevator_plan()})
    world.clock.advance(58 * DAY)  # 2027-01-20: two visits of each lift are due
    lead = await world.staff("lead-a", "operations_lead", [SITE_A])

    # Naming site B: the same answer as a site that does not exist.
    err = await lead.call("POST", f"/api/maintenance-plans/generate?site={SITE_B}", 404)
    assert err["error"]["field"] == "site"
    # Any date far ahead (releasing a year of visits at once) is refused by name.
    err = await lead.call("POST", "/api/maintenance-plans/generate?today=2027-12-31", 400)
    assert err["error"]["field"] == "today"
    # Without a site: only the lead's own.
    made = await lead.call("POST", "/api/maintenance-plans/generate", 200)
    assert len(made["created"]) == 2
    assert await _orders_at(world, SITE_A) == 2
    assert await _orders_at(world, SITE_B) == 0  # the attack of the finding made 7 here

    # Site B's own run still makes its orders.
    made = await world.admin.call("POST", f"/api/maintenance-plans/generate?site={SITE_B}")
    assert len(made["created"]) == 2


# --- rules ---------------------------------------------------------------------------------


async def test_rules_are_changed_only_by_a_login_serving_every_site_and_audited(
        world: TwoSites) -> None:
    current = await world.admin.call("GET", "/api/rules")
    text = current["yaml"] + "\n# 北苑主管改的 / edited by north's lead\n"
    yaml = {"Content-Type": "application/yaml"}
    lead_a = await world.staff("lead-a", "operations_lead", [SITE_A])
    async with lead_a.http.put("/api/rules", data=text.encode(),
                               headers={**lead_a.headers, **yaml}) as resp:
        assert resp.status == 403, await resp.text()
    # Naming someone else as the author is refused too.
    head = await world.staff("lead-all", "operations_lead", None, name="总部主管")
    async with head.http.put("/api/rules?by=%E5%88%AB%E4%BA%BA", data=text.encode(),
                             headers={**head.headers, **yaml}) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["field"] == "by"
    async with world.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(
            RuleSetVersion))).scalar_one() == 0

    async with head.http.put("/api/rules", data=text.encode(),
                             headers={**head.headers, **yaml}) as resp:
        assert resp.status == 200, await resp.text()
        saved = await resp.json()
    assert saved["by"] == "总部主管"
    [entry] = await world.audit("rules")
    assert entry.actor.startswith("user:") and entry.actor_name == "总部主管"
    assert entry.action == "update" and entry.entity_id == str(saved["version"])
    assert entry.after is not None and entry.after["yaml"] == text


# --- technicians ---------------------------------------------------------------------------


async def test_site_a_staff_do_not_see_site_b_technicians(world: TwoSites) -> None:
    await world.admin.call("POST", "/api/technicians", 201, {
        "name": "北苑王师傅", "phone": "13800000001", "skills": ["plumbing"],
        "sites": [SITE_A]})
    await world.admin.call("POST", "/api/technicians", 201, {
        "name": "南苑李师傅", "phone": "13900000002", "skills": ["plumbing"],
        "sites": [SITE_B]})
    await world.admin.call("POST", "/api/technicians", 201, {
        "name": "两边跑的赵师傅", "phone": "13700000003", "skills": ["electrical"],
        "sites": [SITE_A, SITE_B]})
    for role in ("operations_lead", "technician", "guard"):
        caller = await world.token(role, [SITE_A])
        got = await caller.call("GET", "/api/technicians")
        names = {t["name"]: t for t in got["technicians"]}
        assert set(names) == {"北苑王师傅", "两边跑的赵师傅"}, role
        assert "13900000002" not in str(got)
        assert names["两边跑的赵师傅"]["sites"] == [SITE_A]  # site B is not even named
        # Adding a technician to site B is refused as for an unknown site.
        if role == "operations_lead":
            await caller.call("POST", "/api/technicians", 404, {
                "name": "冒名", "skills": [], "sites": [SITE_B]})


# --- work-order roles ----------------------------------------------------------------------


async def test_a_technician_cannot_act_as_the_requester_or_for_someone_else(
        world: TwoSites) -> None:
    wang = (await world.admin.call("POST", "/api/technicians", 201, {
        "name": "王师傅", "skills": ["plumbing"], "sites": [SITE_A], "on_duty": True}))["id"]
    li = (await world.admin.call("POST", "/api/technicians", 201, {
        "name": "李师傅", "skills": ["plumbing"], "sites": [SITE_A]}))["id"]
    tech = await world.staff("wang", "technician", [SITE_A], name="王师傅")
    desk = await world.staff("desk", "customer_service", [SITE_A], name="前台小周")
    lead = await world.staff("lead", "operations_lead", [SITE_A], name="赵主管")

    async def order(title: str) -> int:
        got = await desk.call("POST", "/api/workorders", 201, {
            "site": SITE_A, "category": "plumbing", "title": title,
            "requested_by": "3-2-101 业主"})
        assert got["assignee_ids"] == [wang]  # dispatched to the one on duty
        return int(got["id"])

    async def state(oid: int) -> str:
        return str((await world.admin.call("GET", f"/api/workorders/{oid}"))["state"])

    oid = await order("厨房漏水")
    # The spoof of the finding: a body naming the role (or a person) is refused by name.
    for spoof in ({"role": "requester", "note": "不修了"}, {"by": "3-2-101 业主",
                                                              "note": "不修了"}):
        err = await tech.call("POST", f"/api/workorders/{oid}/cancel", 400, spoof)
        assert err["error"]["field"] in spoof
    # Without it the technician acts as the technician, who may not cancel.
    err = await tech.call("POST", f"/api/workorders/{oid}/cancel", 403, {"note": "不修了"})
    assert err["error"]["field"] == "role" and "technician" in err["error"]["message"]
    assert await state(oid) == "assigned"

    for action in ("accept", "start"):
        await tech.call("POST", f"/api/workorders/{oid}/{action}", 200, {})
    await tech.call("POST", f"/api/workorders/{oid}/complete", 200, {"note": "换了角阀"})
    # Closing (verifying his own fix), reopening and rating are the requester's.
    for action, body in (("close", {}), ("reopen", {"note": "再看看"}), ("rate", {"rating": 5})):
        err = await tech.call("POST", f"/api/workorders/{oid}/{action}", (403, 409), body)
        assert err["error"]["code"] in ("forbidden", "invalid_transition")
    assert await state(oid) == "completed"
    await desk.call("POST", f"/api/workorders/{oid}/close", 200, {})
    err = await tech.call("POST", f"/api/workorders/{oid}/rate", 403, {"rating": 5})
    assert err["error"]["field"] == "role"
    err = await tech.call("POST", f"/api/workorders/{oid}/reopen", 403, {"note": "x"})
    rated = await desk.call("POST", f"/api/workorders/{oid}/rate", 200, {"rating": 4})
    assert rated["rating"] == 4
    history = rated["history"]
    assert [(h["action"], h["by"]) for h in history if h["action"] in (
        "accept", "complete", "close", "rate")] == [
        ("accept", "王师傅"), ("complete", "王师傅"), ("close", "前台小周"), ("rate", "前台小周")]

    # Not his order: someone else's steps are not his to take.
    other = await order("阳台漏水")
    await lead.call("POST", f"/api/workorders/{other}/transfer", 200,
                    {"assignee_ids": [li], "note": "李师傅更近"})
    err = await tech.call("POST", f"/api/workorders/{other}/accept", 403, {})
    assert err["error"]["field"] == "id"
    # Nor may he grab a pooled order in a colleague's name, nor one needing a skill he lacks.
    pooled = (await world.admin.call("POST", "/api/workorders", 201, {
        "site": SITE_A, "category": "electrical", "title": "路灯不亮"}))["id"]
    err = await tech.call("POST", f"/api/workorders/{pooled}/grab", 403, {"technician_id": li})
    assert err["error"]["field"] == "technician_id"
    err = await tech.call("POST", f"/api/workorders/{pooled}/grab", 400, {})
    assert err["error"]["field"] == "technician_id" and "electrical" in err["error"]["message"]
    async with world.sessions() as session, session.begin():  # he trains as an electrician
        record = await session.get(Technician, wang)
        assert record is not None
        record.skills = ["plumbing", "electrical"]
    grabbed = await tech.call("POST", f"/api/workorders/{pooled}/grab", 200, {})
    assert grabbed["assignee_ids"] == [wang]
    # The lead dispatches and verifies, but rating is the resident's (through the desk).
    assert await state(other) == "assigned"
    err = await lead.call("POST", f"/api/workorders/{oid}/rate", (403, 400), {"rating": 1})
    assert err["error"]["field"] in ("role", "rating")


async def test_a_site_b_technician_cannot_be_put_on_a_site_a_order(world: TwoSites) -> None:
    south = (await world.admin.call("POST", "/api/technicians", 201, {
        "name": "南苑李师傅", "skills": ["plumbing"], "sites": [SITE_B]}))["id"]
    lead = await world.token("operations_lead", [SITE_A])
    oid = (await lead.call("POST", "/api/workorders", 201, {
        "site": SITE_A, "category": "plumbing", "title": "北苑漏水"}))["id"]
    err = await lead.call("POST", f"/api/workorders/{oid}/assign", 400,
                          {"assignee_ids": [south]})
    assert err["error"]["field"] == "assignee_ids"
    got = await world.admin.call("GET", f"/api/workorders/{oid}")
    assert (got["state"], got["assignee_ids"]) == ("pool", [])


async def test_site_a_staff_cannot_act_on_a_site_b_work_order(world: TwoSites) -> None:
    oid = (await world.admin.call("POST", "/api/workorders", 201, {
        "site": SITE_B, "category": "plumbing", "title": "南苑漏水"}))["id"]
    lead = await world.token("admin", [SITE_A])  # the strongest role, one site
    for action, body in (("assign", {"assignee_ids": [1]}), ("cancel", {"note": "x"})):
        err = await lead.call("POST", f"/api/workorders/{oid}/{action}", 404, body)
        assert err["error"]["field"] == "id"
    assert (await world.admin.call("GET", f"/api/workorders/{oid}"))["state"] == "pool"


# --- the route walk -------------------------------------------------------------------------

async def _seed_b(world: TwoSites) -> dict[str, Any]:
    """One record of every kind at site B, made by the all-sites administrator (or loaded as
    the sample community is); their ids by placeholder name."""
    import yaml
    from sqlalchemy import insert

    from cloud.alarms.tables import Alarm
    from cloud.auth.audit import SYSTEM
    from cloud.billing.tables import Bill, BillRun, FeeItem
    from cloud.db.models import Device, Site
    from cloud.parking.tables import (
        Blacklist,
        LotTariff,
        MonthlyPass,
        ParkingSpace,
        ParkingVehicle,
        VisitorPass,
    )
    from cloud.payments.tables import Payment
    from cloud.records.tables import BillingMeter, Company, Resident, SiteCompany, Unit
    from cloud.sample_community import load_community
    from tests.support.procs import REPO

    doc = yaml.safe_load((REPO / "configs/billing/sample_community.yaml").read_text("utf-8"))
    doc["site"]["slug"] = SITE_B
    now = world.clock.now()
    stamp = {"created_at": now, "updated_at": now}
    ids: dict[str, Any] = {"site": SITE_B, "plan": _elevator_plan()}
    async with world.sessions() as session, session.begin():
        site = await load_community(session, doc, SYSTEM, now)
        unit = (await session.scalars(select(Unit).where(Unit.site_id == site.id))).first()
        assert unit is not None
        ids |= {"unit": unit.id, "unit_code": unit.code, "building": unit.building_id}

        def first(model: Any) -> Any:
            return select(model.id).where(model.site_id == site.id).limit(1)

        for key, model in (("meter", BillingMeter), ("fee_item", FeeItem),
                           ("bill_run", BillRun), ("bill", Bill), ("payment", Payment),
                           ("pvehicle", ParkingVehicle), ("ppass", MonthlyPass)):
            ids[key] = (await session.execute(first(model))).scalar_one()
        register = ParkingVehicle(site_id=site.id, plate="粤B33333", holder="南苑车主",
                                  role="owner", lots=[], **stamp)
        session.add_all([register, LotTariff(site_id=site.id, lot="lot-main",
                                             doc={"id": "std"}, **stamp)])
        await session.flush()
        ids["vehicle"] = register.id
        ids["receipt"] = (await session.execute(select(Payment.receipt_number).where(
            Payment.site_id == site.id, Payment.receipt_number.is_not(None)))).scalars().first()
        ids["device"] = (await session.execute(select(Device.key).where(
            Device.site_id == site.id))).scalars().first()
        for key, role in (("owner", "owner"), ("tenant", "tenant")):
            row = Resident(site_id=site.id, unit_id=unit.id, role=role, name=f"南苑{role}",
                           **stamp)
            session.add(row)
            await session.flush()
            ids[key] = row.id
        company = Company(code="S-PM", name="南苑物业", **stamp)
        session.add(company)
        await session.flush()
        session.add(SiteCompany(site_id=site.id, company_id=company.id))
        ids["company"] = company.id
        parked: tuple[tuple[str, Any], ...] = (
                ("pspace", ParkingSpace(site_id=site.id, code="S-1", lot="lot-main",
                                        kind="public", **stamp)),
                ("space", ParkingSpace(site_id=site.id, code="S-2", lot="lot-main",
                                       kind="public", **stamp)),
                ("pvisitor", VisitorPass(site_id=site.id, plate="粤B55555", start_at=now,
                                         end_at=now, **stamp)),
                ("pblack", Blacklist(site_id=site.id, plate="粤B44444", reason="x",
                                     **stamp)))
        for key, row in parked:
            session.add(row)
            await session.flush()
            ids[key] = row.id
        alarm = (await session.execute(insert(Alarm).values(
            site_id=site.id, kind="fire.alarm", severity="critical", state="open",
            fold_key="k", source_key="s", device="d", title_zh="火警", title_en="fire",
            first_ts=now, last_ts=now, opened_at=now, event_id=1, event_uuid="e-1",
            updated_at=now).returning(Alarm.id))).scalar_one()
        ids["alarm"] = alarm
        assert (await session.get(Site, site.id)) is not None
    ids["wo"] = (await world.admin.call("POST", "/api/workorders", 201, {
        "site": SITE_B, "category": "plumbing", "title": "南苑漏水"}))["id"]
    ids["asset"] = (await world.admin.call("POST", "/api/assets", 201, {
        "site": SITE_B, "code": "EL-9", "kind": "elevator", "name": "南苑电梯",
        "install_date": "2020-05-01"}))["id"]
    ids["job"] = 1
    ids["schedule"] = (await world.admin.call("POST", "/api/schedules", 201, {
        "site": SITE_B, "kind": "reminders"}))["id"]
    return ids


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]  # a whole placeholder keeps its type (a plan document)
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


async def test_every_site_b_action_is_refused(world: TwoSites) -> None:
    from cloud.auth.guard import permission_of

    routes = sorted({(r.method, r.resource.canonical) for r in world.server.app.router.routes()
                     if r.method != "HEAD" and r.resource is not None})
    missing = [r for r in routes if r not in TABLE]
    assert not missing, f"routes without a line in TABLE (add a probe or a reason): {missing}"
    stale = sorted(set(TABLE) - set(routes))
    assert not stale, f"TABLE names routes that no longer exist: {stale}"
    public = {(r.method, r.resource.canonical) for r in world.server.app.router.routes()
              if r.resource is not None and permission_of(r.handler) == "public"}

    ids = await _seed_b(world)
    assert None not in ids.values(), ids
    attacker = await world.token("admin", [SITE_A])  # the strongest role, site A only
    before = await _fingerprint(world)
    answered: dict[tuple[str, str], int] = {}
    for (method, canonical), probe in TABLE.items():
        if isinstance(probe, str):
            continue
        assert (method, canonical) not in public, (method, canonical)
        path, body = probe
        kw: dict[str, Any] = (
            {"data": body, "headers": {**attacker.headers, "Content-Type": "image/png"}}
            if isinstance(body, bytes) else {"json": _fill(body, ids) if body is not None
                                             else None, "headers": attacker.headers})
        async with attacker.http.request(method, _fill(path, ids), **kw) as resp:
            answered[(method, canonical)] = resp.status
    wrong = {k: v for k, v in answered.items() if v not in (403, 404)}
    assert not wrong, f"site-A staff got these answers from site-B actions: {wrong}"
    assert await _fingerprint(world) == before  # and nothing of site B changed

    # The control: site B's own administrator, making the same requests, is not refused, so
    # the refusals above come from the site, not from a malformed probe.
    owner = await world.token("admin", [SITE_B])
    control: dict[tuple[str, str], int] = {}
    for (method, canonical), probe in TABLE.items():
        if isinstance(probe, str):
            continue
        path, body = probe
        kw = ({"data": body, "headers": {**owner.headers, "Content-Type": "image/png"}}
              if isinstance(body, bytes) else {"json": _fill(body, ids) if body is not None
                                               else None, "headers": owner.headers})
        async with owner.http.request(method, _fill(path, ids), **kw) as resp:
            control[(method, canonical)] = resp.status
    refused = {k: v for k, v in control.items() if v in (403, 404) and k not in ALSO_REFUSED}
    assert not refused, f"probes that site B's own admin is refused too: {refused}"


async def _fingerprint(world: TwoSites) -> dict[str, Any]:
    """Counts and states of site B's records (what a refused action must leave alone)."""
    from cloud.alarms.tables import Alarm
    from cloud.billing.tables import Bill, FeeItem
    from cloud.db.models import Site
    from cloud.parking.tables import Blacklist, ParkingVehicle
    from cloud.payments.tables import Payment
    from cloud.records.tables import Building, Resident, Unit

    out: dict[str, Any] = {}
    async with world.sessions() as session:
        site_id = (await session.execute(select(Site.id).where(Site.slug == SITE_B))
                   ).scalar_one()
        models: tuple[Any, ...] = (Alarm, Bill, FeeItem, Blacklist, ParkingVehicle, Payment,
                                   Building, Resident, Unit, WorkOrder)
        for model in models:
            rows = (await session.execute(select(model).where(model.site_id == site_id)
                                          .order_by(model.id))).scalars().all()
            out[model.__name__] = [(r.id, getattr(r, "state", None),
                                    str(getattr(r, "updated_at", None))) for r in rows]
    return out


async def test_a_login_is_offered_only_its_own_sites_by_name(world: TwoSites) -> None:
    """Pages offer 小区 by name from /api/me: a site-A clerk never sees site B's name."""
    clerk = await world.staff("clerk-a", "finance", [SITE_A])
    me = await clerk.call("GET", "/api/me")
    assert list(me["site_names"]) == [SITE_A] and me["sites"] == [SITE_A]
    everyone = await world.staff("admin-all", "admin", None)
    assert set((await everyone.call("GET", "/api/me"))["site_names"]) == {SITE_A, SITE_B}
