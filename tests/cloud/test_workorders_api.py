"""Work orders through the console's HTTP API on real SQLite and PostgreSQL: a request
filed, dispatched, worked on with parts, closed and rated; refusals that name the field or
the state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.settings import Settings
from contract import FakeClock
from tests.support.auth import admin_headers

#: Monday 2026-11-23, 10:00 in Shanghai.
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@dataclass
class Console:
    client: TestClient[Any, Any]
    clock: FakeClock

    async def call(self, method: str, path: str, status: int, body: Any = None) -> Any:
        resp = await self.client.request(method, path, json=body)
        assert resp.status == status, (resp.status, await resp.text())
        return await resp.json()


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add_all([Site(slug="garden", name="花园小区"), Site(slug="lake", name="湖畔")])
    clock = FakeClock(T0)
    client = TestClient(TestServer(create_app(Settings(database_url=db_url), sessions, clock)),
                        headers=await admin_headers(sessions))
    await client.start_server()
    try:
        yield Console(client, clock)
    finally:
        await client.close()
        await engine.dispose()


def _error(body: dict[str, Any]) -> dict[str, Any]:
    err: dict[str, Any] = body["error"]
    zh, en = err["message"].split(" / ", 1)
    assert zh and en
    return err


async def test_a_request_goes_from_filed_to_rated(console: Console) -> None:
    c = console
    day = await c.call("POST", "/api/technicians", 201, {
        "name": "王师傅", "skills": ["plumbing"], "sites": ["garden"],
        "shifts": [{"weekday": 0, "start": "08:00", "end": "20:00"}]})
    assert day["sites"] == ["garden"] and day["shifts"][0]["end"] == "20:00"
    night = await c.call("POST", "/api/technicians", 201, {
        "name": "李师傅", "skills": ["plumbing"], "sites": ["garden"],
        "shifts": [{"weekday": 0, "start": "20:00", "end": "08:00"}]})
    order = await c.call("POST", "/api/workorders", 201, {
        "site": "garden", "category": "plumbing", "title": "3-2-101 厨房漏水",
        "priority": "high", "request_id": "app-42", "requested_by": "3-2-101 业主"})
    oid = order["id"]
    assert order["state"] == "assigned" and order["assignee_ids"] == [day["id"]]
    assert order["response_due"] == "2026-11-23T04:00:00.000Z"
    assert order["allowed"] == ["transfer", "accept", "cancel"]

    dup = await c.call("POST", "/api/workorders", 409, {
        "site": "garden", "category": "plumbing", "title": "again",
        "request_id": "app-42", "requested_by": "3-2-101 业主"})
    assert _error(dup)["field"] == "request_id" and dup["error"]["id"] == oid

    refused = await c.call("POST", f"/api/workorders/{oid}/close", 409, {})
    assert refused["error"]["state"] == "assigned"
    assert refused["error"]["allowed"] == ["transfer", "accept", "cancel"]

    for action in ("accept", "start"):
        await c.call("POST", f"/api/workorders/{oid}/{action}", 200,
                     {})
    await c.call("POST", f"/api/workorders/{oid}/log-work", 200,
                 {"hours": "1.5", "rate": "60", "part": "软管",
                  "qty": "2", "unit_price": "15.50"})
    await c.call("POST", f"/api/workorders/{oid}/complete", 200, {})
    closed = await c.call("POST", f"/api/workorders/{oid}/close", 200,
                          {})
    assert closed["state"] == "closed" and closed["rating_requested_at"] is not None
    bad = await c.call("POST", f"/api/workorders/{oid}/rate", 400,
                       {"rating": 6})
    assert _error(bad)["field"] == "rating"
    rated = await c.call("POST", f"/api/workorders/{oid}/rate", 200,
                         {"rating": 4, "note": "修得好"})
    assert (rated["rating"], rated["rating_note"]) == (4, "修得好")

    got = await c.call("GET", f"/api/workorders/{oid}", 200)
    assert got["cost_total"] == "121.00"
    assert [line["cost"] for line in got["lines"]] == ["90", "31"]
    assert [s["action"] for s in got["history"]] == [
        "opened", "assign", "accept", "start", "log_work", "complete", "close",
        "rating_requested", "rate"]
    mine = await c.call("GET", f"/api/workorders?assignee={day['id']}&state=closed", 200)
    assert [o["id"] for o in mine["workorders"]] == [oid]
    theirs = await c.call("GET", f"/api/workorders?assignee={night['id']}", 200)
    assert theirs["workorders"] == [], "only orders the technician is assigned to"
    assert (await c.call("GET", "/api/workorders?site=lake", 200))["workorders"] == []


async def test_pool_overdue_and_bad_input(console: Console) -> None:
    c = console
    order = await c.call("POST", "/api/workorders", 201, {
        "site": "lake", "category": "electrical", "title": "路灯不亮",
        "priority": "urgent", "requested_by": "保安"})
    assert order["state"] == "pool"  # nobody with the skill
    assert (await c.call("GET", "/api/workorders?overdue=1", 200))["workorders"] == []
    c.clock.advance(31 * 60)
    late = await c.call("GET", "/api/workorders?overdue=1", 200)
    assert [o["id"] for o in late["workorders"]] == [order["id"]]

    for body, field in (
            ({"site": "lake", "category": "magic", "title": "x", "requested_by": "a"},
             "category"),
            ({"site": "lake", "category": "other", "requested_by": "a"}, "title"),
            ({"site": "lake", "category": "other", "title": "x", "requested_by": "a",
              "priority": "asap"}, "priority"),
            ({"site": "lake", "category": "other", "title": "x", "requested_by": "a",
              "colour": "red"}, "colour")):
        assert _error(await c.call("POST", "/api/workorders", 400, body))["field"] == field
    assert _error(await c.call("POST", "/api/workorders", 404, {
        "site": "nowhere", "category": "other", "title": "x",
        "requested_by": "a"}))["field"] == "site"
    assert _error(await c.call("GET", "/api/workorders/99999", 404))["field"] == "id"
    assert _error(await c.call("POST", f"/api/workorders/{order['id']}/fly", 404,
                               {}))["field"] == "action"
    assert _error(await c.call("POST", f"/api/workorders/{order['id']}/cancel", 400,
                               {}))["field"] == "note"
    assert _error(await c.call("GET", "/api/workorders?state=lost", 400))["field"] == "state"
    cancelled = await c.call("POST", f"/api/workorders/{order['id']}/cancel", 200,
                             {"note": "已由市政处理"})
    assert cancelled["state"] == "cancelled"
