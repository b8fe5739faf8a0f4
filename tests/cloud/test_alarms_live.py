"""The guard board's live feed (``/api/alarms/live``) on real SQLite and PostgreSQL: a
snapshot of the active alarms, then every change as it commits — on PostgreSQL from a
separate ingest engine through LISTEN/NOTIFY, as when the ingest worker is another process.

No assertion here is about time: a receive has a generous timeout only so a broken feed
fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cloud.alarms import AlarmHub, SubscriptionLost, check_once
from cloud.alarms.hub import LISTEN_APPLICATION_NAME
from cloud.alarms.policy import DEFAULT_POLICY
from cloud.alarms.routes import ALARMS
from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.settings import Settings
from contract import FakeClock
from tests.cloud.test_alarms_ingest import T0, Edge, fire_data
from tests.support.auth import admin_headers

RECEIVE_TIMEOUT_S = 15.0


@dataclass
class Board:
    client: TestClient[Any, Any]
    app_sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    #: The ingest side: its own engine and sessions, like a separate worker process.
    edge: Edge
    ingest_engine: AsyncEngine

    async def connect(self, query: str = "") -> aiohttp.ClientWebSocketResponse:
        return await self.client.ws_connect(f"/api/alarms/live{query}")

    @property
    def hub(self) -> AlarmHub:
        hub = self.client.app[ALARMS].hub if self.client.app is not None else None
        assert hub is not None
        return hub


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next alarm or snapshot message (pings are skipped)."""
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), RECEIVE_TIMEOUT_S)
        if msg["type"] != "ping":
            return msg  # type: ignore[no-any-return]


@asynccontextmanager
async def running_board(url: str) -> AsyncIterator[Board]:
    await migrate(url)
    engine, ingest_engine = make_engine(url), make_engine(url)
    clock = FakeClock(T0)
    sessions = session_factory(engine)
    app = create_app(Settings(database_url=url), sessions, clock)
    client = TestClient(TestServer(app), headers=await admin_headers(sessions))
    await client.start_server()
    try:
        yield Board(client, sessions, clock, Edge(session_factory(ingest_engine), clock),
                    ingest_engine)
    finally:
        await client.close()
        await engine.dispose()
        await ingest_engine.dispose()


@pytest.fixture
async def board(db_url: str) -> AsyncIterator[Board]:
    async with running_board(db_url) as b:
        yield b


async def test_snapshot_then_every_change_as_it_commits(board: Board) -> None:
    edge = board.edge
    await edge.send(edge.event("fire.alarm", fire_data()),
                    edge.event("fire.fault", fire_data("fire.fault", zone=12)))
    listed = (await (await board.client.get("/api/alarms?state=open")).json())["alarms"]
    [fault] = [a for a in listed if a["kind"] == "fire.fault"]
    resp = await board.client.post(f"/api/alarms/{fault['id']}/resolve",
                                   json={"note": "已修复"})
    assert resp.status == 200

    ws = await board.connect()
    snapshot = await receive(ws)
    assert snapshot["type"] == "snapshot"
    assert [(a["kind"], a["state"]) for a in snapshot["alarms"]] == [("fire.alarm", "open")]
    fire_id = snapshot["alarms"][0]["id"]

    # A new alarm, ingested by the other engine. The hub may still be publishing the changes
    # committed before the snapshot (the same state again, harmless to a board): skip those.
    known = {a["id"]: (a["state"], a["count"]) for a in snapshot["alarms"]}
    known[fault["id"]] = ("resolved", fault["count"])
    await edge.send(edge.event("fire.alarm", fire_data(zone=11)))
    msg = await receive(ws)
    while msg["type"] == "alarm" and known.get(msg["alarm"]["id"]) == (
            msg["alarm"]["state"], msg["alarm"]["count"]):
        msg = await receive(ws)
    assert msg["type"] == "alarm"
    new = msg["alarm"]
    assert (new["kind"], new["state"], new["count"], new["evidence"]["zone"]) == (
        "fire.alarm", "open", 1, 11)
    assert new["location_text"] == "1栋 3层 东侧走廊"
    # Another detector of the same panel minutes later: the same incident as the first fire.
    assert (new["incident"], snapshot["alarms"][0]["incident"]) == (fire_id, fire_id)

    # A repeat folds: the same alarm again, with its count.
    await edge.send(edge.event("fire.alarm", fire_data()))
    msg = await receive(ws)
    assert (msg["alarm"]["id"], msg["alarm"]["count"]) == (fire_id, 2)

    # A guard's acknowledgement through the API.
    resp = await board.client.post(f"/api/alarms/{fire_id}/acknowledge", json={})
    assert resp.status == 200
    msg = await receive(ws)
    assert (msg["alarm"]["id"], msg["alarm"]["state"]) == (fire_id, "acknowledged")
    assert msg["alarm"]["acknowledged_by"].startswith("token:test-admin")  # the login

    # An escalation from the loop (any process), through the same path.
    board.clock.advance(60)
    [escalated] = await check_once(edge.sessions, board.clock, DEFAULT_POLICY)
    assert escalated == new["id"]
    msg = await receive(ws)
    assert (msg["alarm"]["id"], msg["alarm"]["escalated"], msg["alarm"]["escalation_level"]) == (
        new["id"], True, 1)
    await ws.close()


async def test_a_site_filter_only_sends_that_site(board: Board) -> None:
    ws = await board.connect("?site=demo")
    assert (await receive(ws))["alarms"] == []
    north = Edge(board.edge.sessions, board.clock, site="north")
    await north.send(north.event("fire.alarm", fire_data()))
    await board.edge.send(board.edge.event("door.forced", {"v": 1, "door": "1-unit"},
                                           device="door-1"))
    msg = await receive(ws)
    assert (msg["alarm"]["site"], msg["alarm"]["kind"]) == ("demo", "door.forced")
    await ws.close()


async def test_boards_are_told_when_the_server_goes_away(board: Board) -> None:
    ws = await board.connect()
    assert (await receive(ws))["type"] == "snapshot"
    await board.client.server.close()
    msg = await asyncio.wait_for(ws.receive(), RECEIVE_TIMEOUT_S)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY


async def test_changes_made_while_listen_was_down_still_reach_the_board(pg_url: str) -> None:
    """PostgreSQL: the hub's LISTEN connection is killed; it reconnects and catches up."""
    async with running_board(pg_url) as board:
        await _listen_dropped(board)


async def _listen_dropped(board: Board) -> None:
    ws = await board.connect()
    assert (await receive(ws))["type"] == "snapshot"
    async with board.edge.sessions() as s, s.begin():
        killed = (await s.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = :name AND datname = current_database()"),
            {"name": LISTEN_APPLICATION_NAME})).scalar_one()
    assert killed == 1
    await board.edge.send(board.edge.event("fire.alarm", fire_data()))
    msg = await receive(ws)
    assert (msg["alarm"]["kind"], msg["alarm"]["count"]) == ("fire.alarm", 1)
    assert await board.hub.wait_ready(RECEIVE_TIMEOUT_S)
    await ws.close()


async def test_a_subscriber_that_falls_behind_is_dropped_not_the_others(
        sqlite_url: str) -> None:
    await migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        hub = AlarmHub(session_factory(engine), queue_size=2)
        slow, keeping_up = hub.subscribe(None), hub.subscribe("demo")
        received = []
        for i in range(3):
            hub.publish({"id": i, "site": "demo"})
            received.append(await anext(keeping_up))
            hub.publish({"id": 100 + i, "site": "north"})  # not for keeping_up
        assert [a["id"] for a in received] == [0, 1, 2]
        with pytest.raises(SubscriptionLost):
            await anext(slow)
        assert hub.subscribers == 1 and hub.counters["dropped_subscribers"] == 1
        keeping_up.close()
        assert hub.subscribers == 0
    finally:
        await engine.dispose()
