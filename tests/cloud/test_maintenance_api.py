"""Assets and PM plans through the console's HTTP API on real SQLite and PostgreSQL: an
elevator and its plan registered, orders generated on demand, the asset's page showing its
visits, orders and figures; bad input refused naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.maintenance.loader import load_plans
from cloud.maintenance.store import plan_to_json
from cloud.settings import Settings
from contract import FakeClock
from tests.conftest import REPO
from tests.support.auth import admin_headers

T0 = datetime(2027, 1, 20, 2, 0, tzinfo=UTC)
LIFT = {"site": "garden", "code": "EL-1", "kind": "elevator", "name": "1 号梯", "make": "奥的斯",
        "model": "GeN2", "serial": "S-1", "install_date": "2020-05-01", "device": "lift-1"}


class Console:
    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client

    async def call(self, method: str, path: str, status: int, body: Any = None) -> Any:
        resp = await self.client.request(method, path, json=body)
        assert resp.status == status, (resp.status, await resp.text())
        return await resp.json()

    async def refused(self, method: str, path: str, status: int, field: str,
                      body: Any = None) -> str:
        err = (await self.call(method, path, status, body))["error"]
        assert err["field"] == field, err
        zh, en = err["message"].split(" / ", 1)
        assert zh and en
        return str(err["message"])


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add_all([Site(slug="garden", name="花园小区"), Site(slug="lake", name="湖畔")])
    client = TestClient(TestServer(create_app(Settings(database_url=db_url), sessions,
                                              FakeClock(T0))),
                        headers=await admin_headers(sessions))
    await client.start_server()
    try:
        yield Console(client)
    finally:
        await client.close()
        await engine.dispose()


def _elevator_plan() -> dict[str, Any]:
    plan = next(p for p in load_plans(REPO / "configs/maintenance/plans.yaml")
                if p.id == "elevator-tsg-t5002")
    return plan_to_json(plan)


async def test_asset_and_plan_round_trip_and_generate(console: Console) -> None:
    c = console
    tech = await c.call("POST", "/api/technicians", 201, {
        "name": "张电梯", "skills": ["elevator"], "sites": ["garden"], "on_duty": True})
    lift = await c.call("POST", "/api/assets", 201, LIFT)
    assert lift["code"] == "EL-1" and lift["install_date"] == "2020-05-01" and lift["active"]
    await c.call("POST", "/api/assets", 201, {**LIFT, "site": "lake"})  # same code elsewhere
    await c.call("POST", "/api/assets", 201, {**LIFT, "code": "F-1", "kind": "fire_system",
                                              "name": "消防主机"})
    listed = await c.call("GET", "/api/assets?site=garden&kind=elevator", 200)
    assert [a["id"] for a in listed["assets"]] == [lift["id"]]

    plan = await c.call("POST", "/api/maintenance-plans", 201,
                        {"site": "garden", "plan": _elevator_plan()})
    assert plan["plan"] == _elevator_plan()
    plans = await c.call("GET", "/api/maintenance-plans?site=garden", 200)
    assert [p["id"] for p in plans["plans"]] == [plan["id"]]
    assert (await c.call("GET", "/api/maintenance-plans?site=lake", 200))["plans"] == []

    made = await c.call("POST", "/api/maintenance-plans/generate?today=2027-01-20", 200)
    assert len(made["created"]) == 2  # 01-01 and 01-16; 02-01 comes out 01-29
    again = await c.call("POST", "/api/maintenance-plans/generate?today=2027-01-20", 200)
    assert again["created"] == []
    order = await c.call("GET", f"/api/workorders/{made['created'][0]}", 200)
    assert order["state"] == "assigned" and order["assignee_ids"] == [tech["id"]]
    assert order["source"]["kind"] == "plan"

    detail = await c.call("GET", f"/api/assets/{lift['id']}", 200)
    assert [v["due_date"] for v in detail["visits"]] == ["2027-01-01", "2027-01-16"]
    assert [o["id"] for o in detail["workorders"]] == made["created"]
    stats = detail["stats"]
    assert stats["faults"] == 0 and stats["mtbf_minutes"] is None
    # Both orders are past their 3-day deadline and not done: 0 % on time.
    assert stats["sla_compliance_pct"] == "0.00"


async def test_bad_input_names_the_field(console: Console) -> None:
    c = console
    await c.call("POST", "/api/assets", 201, LIFT)
    assert "EL-1" in await c.refused("POST", "/api/assets", 409, "code", LIFT)
    await c.refused("POST", "/api/assets", 400, "install_date",
                    {**LIFT, "code": "X", "install_date": "2020-13-01"})
    await c.refused("POST", "/api/assets", 400, "name", {**LIFT, "code": "X", "name": ""})
    await c.refused("POST", "/api/assets", 400, "colour", {**LIFT, "colour": "red"})
    await c.refused("POST", "/api/assets", 404, "site", {**LIFT, "site": "nowhere"})
    await c.refused("GET", "/api/assets?site=nowhere", 404, "site")
    await c.refused("GET", "/api/assets/999", 404, "id")
    await c.refused("GET", "/api/assets/1?since=yesterday", 400, "since")

    plan = _elevator_plan()
    bad = deepcopy(plan)
    bad["tiers"][1]["every"] = "90d"
    assert "90d" in await c.refused("POST", "/api/maintenance-plans", 400,
                                    "plan.tiers[1].every", {"site": "garden", "plan": bad})
    bad = deepcopy(plan)
    bad["tiers"][0]["every"] = "2m"  # 3m is not a whole multiple of 2m
    await c.refused("POST", "/api/maintenance-plans", 400, "plan.tiers",
                    {"site": "garden", "plan": bad})
    bad = {k: v for k, v in plan.items() if k != "skill"}
    await c.refused("POST", "/api/maintenance-plans", 400, "plan.skill",
                    {"site": "garden", "plan": bad})
    await c.refused("POST", "/api/maintenance-plans", 400, "plan.release_days_ahead",
                    {"site": "garden", "plan": {**plan, "release_days_ahead": -1}})
    await c.refused("POST", "/api/maintenance-plans", 400, "plan",
                    {"site": "garden", "plan": "elevator"})
    await c.call("POST", "/api/maintenance-plans", 201, {"site": "garden", "plan": plan})
    await c.refused("POST", "/api/maintenance-plans", 409, "plan.id",
                    {"site": "garden", "plan": plan})
    await c.refused("POST", "/api/maintenance-plans/generate?today=2027-02-30", 400, "today")
