"""Alarms through the console's HTTP API on real SQLite and PostgreSQL: a guard's lifecycle
with who (the login), when and why recorded; a body naming someone is refused; refusals that
name the field or the state; filters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.auth.tokens import create_token
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.settings import Settings
from contract import FakeClock
from tests.cloud.test_alarms_ingest import T0, Edge, elevator_data, fire_data
from tests.support.auth import admin_headers


@dataclass
class Console:
    client: TestClient[Any, Any]
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    edge: Edge

    async def call(self, method: str, path: str, status: int, body: Any = None,
                   **kw: Any) -> Any:
        resp = await self.client.request(method, path, json=body, **kw)
        assert resp.status == status, (resp.status, await resp.text())
        return await resp.json()

    async def get(self, path: str, status: int = 200) -> Any:
        return await self.call("GET", path, status)

    async def post(self, path: str, body: Any, status: int = 200,
                   login: dict[str, str] | None = None) -> Any:
        return await self.call("POST", path, status, body, headers=login)

    async def login(self, name: str, role: str = "guard") -> dict[str, str]:
        """Headers of a new API token named ``name`` (its actions are recorded as
        ``token:<name>``, a login's as its display name)."""
        async with self.sessions() as session, session.begin():
            _, secret = await create_token(session, name=name, role=role, site_ids=None,
                                           created_by="tests", now=datetime.now(UTC))
        return {"Authorization": f"Bearer {secret}"}

    async def open_fire(self, **kw: Any) -> dict[str, Any]:
        """Ingest a fire alarm; the alarm it opened (or folded into), as the API shows it."""
        await self.edge.send(self.edge.event("fire.alarm", fire_data(**kw)))
        return (await self.get("/api/alarms?limit=1"))["alarms"][0]  # type: ignore[no-any-return]


@pytest.fixture
async def console(db_url: str) -> AsyncIterator[Console]:
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(T0)
    app = create_app(Settings(database_url=db_url), sessions, clock)
    client = TestClient(TestServer(app), headers=await admin_headers(sessions))
    await client.start_server()
    try:
        yield Console(client, sessions, clock, Edge(sessions, clock))
    finally:
        await client.close()
        await engine.dispose()


def error(body: dict[str, Any]) -> tuple[str, str | None, str, str]:
    err = body["error"]
    zh, en = err["message"].split(" / ", 1)
    return err["code"], err["field"], zh, en


ALARM_KEYS = {"id", "incident", "site", "kind", "severity", "state", "title", "location",
              "location_text", "device", "count", "first_ts", "last_ts", "opened_at",
              "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "note",
              "escalated", "escalation_level", "restored_at", "event_uuid", "evidence"}
TIME_KEYS = {"first_ts", "last_ts", "opened_at", "acknowledged_at", "resolved_at",
             "restored_at"}


async def test_a_guard_takes_an_alarm_from_open_to_resolved(console: Console) -> None:
    alarm = await console.open_fire()
    assert set(alarm) == ALARM_KEYS | {f"{k}_local" for k in TIME_KEYS}
    assert alarm["state"] == "open" and alarm["severity"] == "critical"
    assert alarm["title"] == {"zh": "火警", "en": "Fire alarm"}
    assert alarm["first_ts"] == "2026-11-23T02:00:00.000Z"
    assert alarm["first_ts_local"] == "2026-11-23T10:00:00.000+08:00"
    assert alarm["location_text"] == "1栋 3层 东侧走廊" and alarm["site"] == "demo"
    base = f"/api/alarms/{alarm['id']}"

    zhang, li = await console.login("张保安"), await console.login("李主管", "operations_lead")
    console.clock.advance(30)
    acked = await console.post(f"{base}/acknowledge", {}, login=zhang)
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "token:张保安"
    assert acked["acknowledged_at"] == "2026-11-23T02:00:30.000Z"
    console.clock.advance(60)
    started = await console.post(f"{base}/start", {"note": "到达现场"}, login=zhang)
    assert started["state"] == "in_progress" and started["note"] == "到达现场"
    console.clock.advance(300)
    done = await console.post(f"{base}/resolve", {"note": "烟感误触，已复位"}, login=li)
    assert (done["state"], done["resolved_by"], done["note"]) == (
        "resolved", "token:李主管", "烟感误触，已复位")
    assert done["resolved_at"] == "2026-11-23T02:06:30.000Z"
    assert done["acknowledged_by"] == "token:张保安"

    detail = await console.get(base)
    assert [(h["action"], h["from"], h["to"], h["by"], h["at"]) for h in detail["history"]] == [
        ("opened", None, "open", None, "2026-11-23T02:00:00.000Z"),
        ("acknowledge", "open", "acknowledged", "token:张保安", "2026-11-23T02:00:30.000Z"),
        ("start", "acknowledged", "in_progress", "token:张保安", "2026-11-23T02:01:30.000Z"),
        ("resolve", "in_progress", "resolved", "token:李主管", "2026-11-23T02:06:30.000Z"),
    ]
    assert detail["history"][-1]["note"] == "烟感误触，已复位"
    assert detail["linkage"] == []


async def test_acknowledge_may_be_skipped_and_finished_alarms_refuse_more(
        console: Console) -> None:
    alarm = await console.open_fire()
    base = f"/api/alarms/{alarm['id']}"
    closed = await console.post(f"{base}/false-alarm", {"note": "测试按钮"},
                                login=await console.login("guard-2"))
    assert closed["state"] == "false_alarm"
    # Whoever acted first answered the alarm, even without pressing "acknowledge".
    assert closed["acknowledged_by"] == closed["resolved_by"] == "token:guard-2"

    for action in ("acknowledge", "start", "resolve", "false-alarm"):
        body = await console.post(f"{base}/{action}", {"note": "again"}, 409)
        code, field, zh, en = error(body)
        assert (code, field) == ("invalid_transition", "state")
        assert body["error"]["state"] == "false_alarm" and body["error"]["allowed"] == []
        assert "误报" in zh and "false_alarm" in en

    other = await console.open_fire(zone=11)
    obase = f"/api/alarms/{other['id']}"
    await console.post(f"{obase}/acknowledge", {})
    body = await console.post(f"{obase}/acknowledge", {}, 409)
    assert body["error"]["state"] == "acknowledged"
    assert body["error"]["allowed"] == ["start", "resolve", "false_alarm"]
    assert "已确认" in error(body)[2]


async def test_bad_bodies_name_the_field_and_unknown_ids_are_404(console: Console) -> None:
    alarm = await console.open_fire()
    base = f"/api/alarms/{alarm['id']}"
    cases: list[tuple[str, Any, str]] = [
        # The login is the actor: naming someone, even oneself, or a role is refused.
        ("acknowledge", {"by": "张三"}, "by"),
        ("acknowledge", {"by": "   "}, "by"),
        ("acknowledge", {"role": "guard"}, "role"),
        ("resolve", {"by": "李主管", "note": "已处理"}, "by"),
        ("acknowledge", {"note": 3}, "note"),
        ("acknowledge", {"notes": "typo"}, "notes"),
        ("false-alarm", {}, "note"),
        ("false-alarm", {"note": "  "}, "note"),
        ("false-alarm", {"note": "x" * 2001}, "note"),
    ]
    for action, body, field in cases:
        got = await console.post(f"{base}/{action}", body, 400)
        assert error(got)[:2] == ("invalid_parameter", field), (action, body)
    assert "当前登录" in error(await console.post(f"{base}/acknowledge", {"by": "张三"}, 400))[2]
    resp = await console.client.post(f"{base}/acknowledge", data=b"not json")
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_body"
    resp = await console.client.post(f"{base}/acknowledge", json=["by"])
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_body"
    # Nothing of the above changed the alarm.
    detail = await console.get(base)
    assert detail["state"] == "open" and [h["action"] for h in detail["history"]] == ["opened"]
    # Resolving needs no note (the events and the edge's reports are the record).
    ok = await console.post(f"{base}/resolve", {}, login=await console.login("x" * 80))
    assert (ok["state"], ok["resolved_by"], ok["note"]) == ("resolved", "token:" + "x" * 58,
                                                            None)

    for path in ("/api/alarms/999999", "/api/alarms/abc", "/api/alarms/0"):
        assert error(await console.get(path, 404))[:2] == ("not_found", "id"), path
    missing = await console.post("/api/alarms/999999/resolve", {"note": "n"}, 404)
    assert error(missing)[:2] == ("not_found", "id")


async def test_filters_by_state_site_severity_and_since(console: Console) -> None:
    edge = console.edge
    fire = await console.open_fire()
    console.clock.advance(60)
    await edge.send(edge.event("elevator.fault", elevator_data(code=11, key="door_close_fault"),
                               device="elevator-2"))
    console.clock.advance(60)
    north = Edge(console.sessions, console.clock, site="north")
    await north.send(north.event("camera.degraded", {"v": 1, "reason": "blur"},
                                 device="cam-in"))
    await console.post(f"/api/alarms/{fire['id']}/acknowledge", {})

    async def ids(query: str) -> list[tuple[str, str]]:
        body = await console.get(f"/api/alarms{query}")
        return [(a["site"], a["kind"]) for a in body["alarms"]]

    assert await ids("") == [("north", "camera.degraded"), ("demo", "elevator.fault"),
                             ("demo", "fire.alarm")]  # newest first
    assert await ids("?site=demo") == [("demo", "elevator.fault"), ("demo", "fire.alarm")]
    assert await ids("?state=open") == [("north", "camera.degraded"),
                                        ("demo", "elevator.fault")]
    assert await ids("?state=acknowledged,in_progress") == [("demo", "fire.alarm")]
    assert await ids("?state=open&state=acknowledged&site=demo&severity=critical") == [
        ("demo", "fire.alarm")]
    assert await ids("?severity=major,minor") == [("north", "camera.degraded"),
                                                  ("demo", "elevator.fault")]
    assert await ids("?site=nowhere") == []
    assert await ids("?limit=1") == [("north", "camera.degraded")]
    since = quote((T0 + timedelta(seconds=90)).isoformat())
    # The fire alarm was acknowledged after that time: it changed, so it is listed.
    assert await ids(f"?since={since}") == [("north", "camera.degraded"),
                                            ("demo", "fire.alarm")]
    assert await ids(f"?since={since}&state=open") == [("north", "camera.degraded")]

    for query, field in (("?state=closed", "state"), ("?severity=high", "severity"),
                         ("?since=yesterday", "since"), ("?since=2026-11-23T10:00:00", "since"),
                         ("?limit=0", "limit"), ("?limit=x", "limit")):
        assert error(await console.get(f"/api/alarms{query}", 400))[:2] == (
            "invalid_parameter", field), query
