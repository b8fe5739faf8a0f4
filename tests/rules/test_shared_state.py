"""Two consoles' rule engines on one database count and time as one (issue 16 §4).

Each ``RuleEngine(shared=True)`` stands for one console process: its own memory, the state
in the database. Repeats spread over both reach the threshold once, "back online" seen by one
cancels the other's wait, and a due timer fired by both at once opens one order, not two.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.engine import make_engine, session_factory
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.rules.evaluate import EventFacts, RuleEngine
from cloud.rules.handlers import timers_round
from cloud.rules.load import default_rules, load_rules_text
from cloud.rules.shared_state import claim_due, decide_shared, pending_timers, prune_windows
from cloud.rules.state_tables import RuleWindowHit
from cloud.workorders.tables import WorkOrder
from contract import Batch, Envelope, FakeClock, encode_batch, priority_for, topics
from tests.support import services
from tests.support.epochs import TEST_EPOCH

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SITE = "demo"
REPEAT = """\
rules:
  - id: gate-often
    on: gate.fault
    when: {repeat: {count: 3, within_s: 600}}
    then: {alarm: {severity: major}}
  - id: gate-once
    on: gate.fault
    then: {nothing: one fault is noise}
"""


@pytest.fixture
def pg_url() -> Iterator[str]:
    with services.fresh_pg_database(migrated=True) as url:
        yield url


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(pg_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def ev(kind: str, at: float, device: str = "gate-1", **data: Any) -> EventFacts:
    return EventFacts(SITE, kind, device, data.get("device_type"), T0 + timedelta(seconds=at),
                      data)


async def _decide(sessions: async_sessionmaker[AsyncSession], engine: RuleEngine,
                  e: EventFacts) -> list[str]:
    async with sessions() as s, s.begin():
        return [d.rule_id for d in await decide_shared(engine, s, e)]


async def test_repeats_spread_over_two_engines_reach_the_threshold_once(
        pg: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    one, two = (RuleEngine(load_rules_text(REPEAT), clock, shared=True) for _ in range(2))
    got = [await _decide(pg, (one, two)[i % 2], ev("gate.fault", at))
           for i, at in enumerate((0, 100, 200, 300))]
    alone = RuleEngine(load_rules_text(REPEAT), clock)  # what one process would decide
    expected = [[d.rule_id for d in alone.decide(ev("gate.fault", at))]
                for at in (0, 100, 200, 300)]
    assert got == expected == [["gate-once"], ["gate-once"], ["gate-often"], ["gate-often"]]
    assert one.state.windows == {} and two.state.windows == {}  # nothing kept in memory
    async with pg() as s:
        kept = (await s.scalars(select(RuleWindowHit.ts).order_by(RuleWindowHit.ts))).all()
    assert len(kept) == 3  # the newest `count` events, all a threshold can use


async def test_a_timer_fires_once_and_back_online_on_the_other_engine_cancels(
        pg: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    one, two = (RuleEngine(default_rules(), clock, shared=True) for _ in range(2))
    assert await _decide(pg, one, ev("device.offline", 0, "cam-1", device_type="camera")) == []
    assert await _decide(pg, two, ev("device.offline", 5, "cam-1", device_type="camera")) == []
    assert await _decide(pg, one, ev("device.offline", 0, "cam-2", device_type="camera")) == []
    assert await _decide(pg, two, ev("device.online", 60, "cam-2", device_type="camera")) == []
    async with pg() as s:
        assert await pending_timers(s) == [(SITE, "cam-1", "device-offline")]
    later = T0 + timedelta(hours=1)
    async with pg() as s1, pg() as s2, s1.begin(), s2.begin():
        first = await claim_due(s1, one.ruleset, later)
        second = await claim_due(s2, two.ruleset, later)  # skips the row s1 holds
    assert [d.device for d in first] == ["cam-1"] and second == []
    async with pg() as s, s.begin():
        assert await claim_due(s, two.ruleset, later) == []  # fired: gone


async def test_an_online_that_overtook_its_offline_on_another_engine_starts_no_timer(
        pg: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock(T0)
    one, two = (RuleEngine(default_rules(), clock, shared=True) for _ in range(2))
    await _decide(pg, one, ev("device.online", 30, "gw"))
    await _decide(pg, two, ev("device.offline", 0, "gw"))  # arrived late: a short drop
    async with pg() as s:
        assert await pending_timers(s) == []


async def test_old_window_rows_are_pruned(pg: async_sessionmaker[AsyncSession]) -> None:
    engine = RuleEngine(load_rules_text(REPEAT), FakeClock(T0), shared=True)
    await _decide(pg, engine, ev("gate.fault", 0))
    async with pg() as s, s.begin():
        assert await prune_windows(s, engine.ruleset, T0 + timedelta(hours=2)) == 0
        assert await prune_windows(s, engine.ruleset, T0 + timedelta(days=2)) == 1


class Console:
    """One console process's ingest and rule engine, on the shared database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: FakeClock) -> None:
        self.rules = RuleEngine(default_rules(), clock, shared=True)
        self.sessions = sessions
        self.ingestor = Ingestor(sessions, clock, default_registry(rules=self.rules))

    async def send(self, seq: int, kind: str, device: str, ts: datetime,
                   **data: Any) -> None:
        env = Envelope(seq=seq, id=str(uuid.uuid4()), ts=ts, device=device, kind=kind,
                       data={"v": 1, **data}, priority=priority_for(kind))
        payload = encode_batch(Batch(epoch=TEST_EPOCH, site=SITE, events=[env]))
        result = await self.ingestor.handle(topics.up_events(SITE), payload)
        assert result.ok, result


@pytest.fixture
async def any_db(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def test_two_consoles_ingesting_one_site_open_one_order_per_cause(
        any_db: async_sessionmaker[AsyncSession]) -> None:
    """On PostgreSQL as several processes would; on SQLite (one process) the same path."""
    pg, clock = any_db, FakeClock(T0)
    one, two = Console(pg, clock), Console(pg, clock)
    await one.send(1, "device.offline", "m1", T0, reason="timeout")
    await two.send(2, "device.offline", "m2", T0, reason="timeout")
    await one.send(3, "device.online", "m2", T0 + timedelta(minutes=2))  # m2 back in time
    later = T0 + timedelta(hours=2)
    rounds = await asyncio.gather(*(timers_round(pg, c.rules, later)
                                    for c in (one, two, one, two)))
    assert sum(fired for fired, _ in rounds) == 1
    async with pg() as s:
        orders = (await s.scalars(select(WorkOrder))).all()
        assert [(o.source_device, o.count) for o in orders] == [("m1", 1)]
        assert await s.scalar(select(func.count()).select_from(WorkOrder)) == 1
