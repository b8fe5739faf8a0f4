"""Event rules edited through the console's API on real SQLite and PostgreSQL: a good file
becomes the next version and the running engine decides by it; a file with mistakes is refused
whole, every mistake with its line, and the last good rules stay in force."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.ingest.handlers import HandlerRegistry
from cloud.rules import EventFacts, OpenWorkOrder, RuleEngine, default_rules
from cloud.rules.handlers import register_workorder_handlers
from cloud.rules.load import load_rules_text
from cloud.rules.store import RulesReloader
from cloud.rules.tables import RuleSetVersion
from cloud.settings import Settings
from contract import FakeClock
from tests.support.auth import admin_headers

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
YAML = {"Content-Type": "application/yaml"}

GOOD = """\
# 道闸一坏就派急修 / any gate fault is urgent
rules:
  - id: gate-now
    on: gate.fault
    then:
      work_order:
        category: gate
        priority: urgent
        skill: gate
        title_zh: 道闸故障
        title_en: Gate fault
  - id: readings
    on: meter.reading
    then:
      nothing: 读数不是故障 / readings are not faults
"""

BAD = """\
rules:
  - id: gate-now
    on: gate.fault
    then:
      work_order:
        category: gate
        priority: urgnet
        skill: gate
        title_zh: 道闸故障
        title_en: Gate fault
  - id: cam
    on: camra.offline
    then:
      nothing: cameras reboot themselves
  - id: gate-alarm
    on: gate.forced
    then:
      alarm: {severity: huge}
"""


@dataclass
class Console:
    client: TestClient[Any, Any]
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock

    async def call(self, method: str, path: str, status: int, text: str | None = None,
                   headers: dict[str, str] | None = None) -> Any:
        resp = await self.client.request(method, path, data=text, headers=headers or YAML)
        assert resp.status == status, (resp.status, await resp.text())
        return await resp.json()


@pytest.fixture
async def console(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Console]:
    monkeypatch.delenv("COURTYARD_RULES", raising=False)
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(T0)
    client = TestClient(TestServer(create_app(Settings(database_url=db_url), sessions, clock)),
                        headers=await admin_headers(sessions))
    await client.start_server()
    try:
        yield Console(client, sessions, clock)
    finally:
        await client.close()
        await engine.dispose()


def _gate_fault(at: datetime) -> EventFacts:
    return EventFacts(site="garden", kind="gate.fault", device="gate-1", device_type="gate",
                      ts=at)


def _urgent_gate_order(engine: RuleEngine, at: datetime) -> bool:
    decisions = engine.decide(_gate_fault(at))
    return (len(decisions) == 1 and decisions[0].rule_id == "gate-now"
            and isinstance(decisions[0].action, OpenWorkOrder)
            and decisions[0].action.priority == "urgent")


async def _stored(console: Console) -> int:
    async with console.sessions() as session:
        return int((await session.execute(select(func.count(RuleSetVersion.id)))).scalar_one())


async def test_a_saved_file_is_served_and_reloaded_into_the_engine(console: Console) -> None:
    before = await console.call("GET", "/api/rules", 200)
    assert before["source"] == "file" and before["version"] == 0
    assert "elevator-trapped" in before["yaml"]

    engine = RuleEngine(default_rules(), console.clock)
    reloader = RulesReloader(console.sessions, engine)
    assert not await reloader.reload_once()  # nothing stored: the startup file stays
    assert not _urgent_gate_order(engine, T0)

    saved = await console.call("PUT", "/api/rules?note=gate%20faults%20urgent", 200,
                               GOOD)
    assert saved["version"] == 1
    got = await console.call("GET", "/api/rules", 200)
    assert got == {"version": 1, "yaml": GOOD, "source": "database"}

    assert await reloader.reload_once()
    assert reloader.applied == 1
    assert _urgent_gate_order(engine, T0 + timedelta(minutes=1))
    assert not await reloader.reload_once()  # unchanged: no second swap

    again = await console.call("PUT", "/api/rules", 200, GOOD.replace("urgent", "high"))
    assert again["version"] == 2
    assert await reloader.reload_once()
    assert not _urgent_gate_order(engine, T0 + timedelta(minutes=2))


async def test_a_file_with_three_mistakes_is_refused_whole(console: Console) -> None:
    await console.call("PUT", "/api/rules", 200, GOOD)
    engine = RuleEngine(default_rules(), console.clock)
    reloader = RulesReloader(console.sessions, engine)
    await reloader.reload_once()

    body = await console.call("PUT", "/api/rules", 400, BAD)
    err = body["error"]
    assert err["code"] == "rules_invalid"
    zh, en = err["message"].split(" / ", 1)
    assert "3" in zh and "3" in en
    problems = err["problems"]
    assert [(p["file"], p["line"]) for p in problems] == [
        ("rules.yaml", 7), ("rules.yaml", 12), ("rules.yaml", 18)]
    assert "urgnet" in problems[0]["message"] and "urgent" in problems[0]["fix"]
    assert "camra." in problems[1]["message"] and "camera." in problems[1]["fix"]
    assert "huge" in problems[2]["message"]
    assert problems[0]["col"] == BAD.splitlines()[6].index("urgnet") + 1
    assert all(p["fix"] for p in problems)

    assert await _stored(console) == 1  # nothing saved
    got = await console.call("GET", "/api/rules", 200)
    assert got["version"] == 1 and got["yaml"] == GOOD
    assert not await reloader.reload_once()
    assert _urgent_gate_order(engine, T0)  # the last good rules stay in force


async def test_check_validates_without_saving(console: Console) -> None:
    ok = await console.call("POST", "/api/rules/check", 200, GOOD,
                            headers={"Content-Type": "text/plain"})
    assert ok == {"ok": True, "problems": []}
    bad = await console.call("POST", "/api/rules/check", 400,
                             "rules:\n  - id: x\n    on: gate.fault\n")
    assert bad["error"]["code"] == "rules_invalid"
    assert [(p["line"], "then" in p["message"]) for p in bad["error"]["problems"]] == [(2, True)]
    assert await _stored(console) == 0
    assert (await console.call("GET", "/api/rules", 200))["source"] == "file"


async def test_who_made_the_change_is_the_login(console: Console) -> None:
    body = await console.call("PUT", "/api/rules?by=%E7%8E%8B%E5%B7%A5", 400, GOOD)
    assert body["error"]["field"] == "by"
    body = await console.call("PUT", "/api/rules", 415, GOOD,
                              headers={"Content-Type": "application/json"})
    assert body["error"]["code"] == "unsupported_media_type"
    assert await _stored(console) == 0
    # The change is the logged-in actor's (here the test's API token).
    body = await console.call("PUT", "/api/rules", 200, GOOD)
    assert body["by"].startswith("token:test-admin")


async def test_a_stored_version_that_no_longer_loads_is_skipped(console: Console) -> None:
    await console.call("PUT", "/api/rules", 200, GOOD)
    engine = RuleEngine(default_rules(), console.clock)
    reloader = RulesReloader(console.sessions, engine)
    await reloader.reload_once()
    async with console.sessions() as session, session.begin():  # e.g. written by an older console
        session.add(RuleSetVersion(version=2, yaml=BAD, created_at=T0, created_by="legacy"))
    assert not await reloader.reload_once()
    assert reloader.applied == 1
    assert _urgent_gate_order(engine, T0)


def test_a_swap_keeps_counting_repeats_of_rules_that_stay() -> None:
    repeat = GOOD.replace("    then:\n      work_order:",
                          "    when: {repeat: {count: 3, within_s: 600}}\n    then:\n"
                          "      work_order:", 1)
    engine = RuleEngine(load_rules_text(repeat), FakeClock(T0))
    assert engine.decide(_gate_fault(T0)) == []
    assert engine.decide(_gate_fault(T0 + timedelta(minutes=1))) == []
    engine.use(load_rules_text(repeat.replace("urgent", "high")))
    third = engine.decide(_gate_fault(T0 + timedelta(minutes=2)))
    assert [(d.rule_id, d.count) for d in third] == [("gate-now", 3)]
    engine.use(load_rules_text(repeat.replace("gate-now", "gate-renamed")))
    assert engine.decide(_gate_fault(T0 + timedelta(minutes=3))) == []  # a new rule starts at 1


def test_kinds_named_after_a_swap_reach_the_work_order_handler() -> None:
    registry = HandlerRegistry()
    engine = RuleEngine(load_rules_text(GOOD), FakeClock(T0))
    register_workorder_handlers(registry, engine)
    assert registry.handlers_for("meter.reading") == []  # readings stay off this path
    assert registry.handlers_for("gate.fault")
    engine.use(load_rules_text(GOOD.replace(
        "      nothing: 读数不是故障 / readings are not faults",
        "      work_order: {category: meter, priority: low, skill: meter, title_zh: 读数,"
        " title_en: Reading}")))
    assert registry.handlers_for("meter.reading")
