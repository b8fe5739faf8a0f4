"""The access dataset from the console to the edge's doors through a real console (its API
and its ``down/sync`` publisher) and a real Mosquitto: a card issued in the console is
announced, pulled, stored and granted at the reader; revoked, it is denied; with the broker
down after the revoke got through, and after a restart of the edge's sync with the console
gone as well, it stays denied. A refused or unusable document leaves the version in force."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
from aiohttp.test_utils import TestClient, TestServer

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.parking.routes import configure_parking
from cloud.parking.sync import SyncPublisher
from cloud.settings import Settings
from contract import FakeClock, topics
from contract.sync import decode_sync
from drivers.access.osdp_model import CardPresented
from drivers.access.wiegand import Credential
from edge.access.credentials import CredentialStore
from edge.access.dataset_store import AccessStore, Loaded
from edge.access.decide import AccessPoint, Decider
from edge.access.sync import AccessSync
from tests.support.auth import token_headers
from tests.support.services import Mosquitto

SITE, SECRET = "demo", "demo-secret-0001"
T0 = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 12, 9, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
CARD = 5898564
LOBBY = AccessPoint("r-lobby", "b1-lobby")


def swipe(decider: Decider, number: int = CARD) -> bool:
    read = CardPresented("r-lobby", Credential("h10301", 26, number, number >> 16,
                                               number & 0xFFFF), 0.0)
    return decider.decide(read, NOW).granted


async def until(check: Callable[[], bool], within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@asynccontextmanager
async def real_console(db_url: str, broker: str) -> AsyncIterator[tuple[TestClient[Any, Any],
                                                                       dict[str, str]]]:
    """The console's API and its sync publisher, as ``cloud.serve`` wires them."""
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    app = create_app(Settings(database_url=db_url), sessions, FakeClock(T0))
    publisher = SyncPublisher(broker, None, None, sessions=sessions, max_backoff=1.0)
    configure_parking(app, {SITE: SECRET}, publisher)
    task = asyncio.create_task(publisher.run())
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client, await token_headers(sessions, "customer_service", [SITE])
    finally:
        await client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def listen(port: int, sync: AccessSync) -> None:
    """The edge's side of ``down/sync`` (the uplink hands each notice to ``notify``),
    reconnecting while the broker is away."""
    while True:
        try:
            async with aiomqtt.Client("127.0.0.1", port, timeout=5,
                                      identifier=f"edge-{uuid.uuid4().hex[:8]}") as client:
                await client.subscribe(topics.down_sync(SITE), qos=1)
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    sync.notify(*decode_sync(message.payload))
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)


def edge(tmp_path: Path, url: str, decider: Decider,
         controllers: list[int]) -> AccessSync:
    async def readers(loaded: Loaded) -> None:
        decider.swap(loaded.credentials)

    async def controller(loaded: Loaded) -> None:  # stands in for ControllerCards.apply
        controllers.append(loaded.version)

    consumers: list[Callable[[Loaded], Awaitable[Any]]] = [readers, controller]
    return AccessSync(SITE, url, SITE, SECRET, AccessStore(tmp_path), consumers,
                      backoff_initial=0.1, backoff_cap=0.5, timeout=3.0)


@contextlib.asynccontextmanager
async def running(*tasks: Awaitable[Any]) -> AsyncIterator[None]:
    started = [asyncio.ensure_future(t) for t in tasks]
    try:
        yield
    finally:
        for t in started:
            t.cancel()
        await asyncio.gather(*started, return_exceptions=True)


async def test_issue_then_revoke_reaches_the_reader_and_holds_with_the_broker_down(
        sqlite_url: str, mosquitto: Mosquitto, tmp_path: Path) -> None:
    decider = Decider(CredentialStore.from_dataset({"version": 0}), [LOBBY])
    controllers: list[int] = []
    async with real_console(sqlite_url, mosquitto.url) as (client, cs):
        url = str(client.make_url("/")).rstrip("/")
        sync = edge(tmp_path, url, decider, controllers)
        async with running(sync.run(), listen(mosquitto.port, sync)):
            await until(lambda: sync.stats.counters.get("access_sync_pulls", 0) >= 1)
            assert not swipe(decider) and sync.version == 0  # the console has nothing yet
            resp = await client.post(f"/api/sites/{SITE}/access/cards", headers=cs, json={
                "number": str(CARD), "staff_name": "保洁刘芳", "doors": ["b1-lobby"]})
            assert resp.status == 201, await resp.text()
            card_id = (await resp.json())["id"]
            await until(lambda: sync.version == 1)
            assert swipe(decider) and controllers == [0, 1]
            assert decider.store.card(str(CARD)) is not None

            resp = await client.post(f"/api/sites/{SITE}/access/cards/{card_id}/revoke",
                                     headers=cs, json={"reason": "合同到期"})
            assert resp.status == 200, await resp.text()
            await until(lambda: sync.version == 2)
            assert not swipe(decider) and controllers == [0, 1, 2]
            assert decider.store.is_blocked(str(CARD))

            mosquitto.stop()  # the revoke got through before the outage
            await asyncio.sleep(0.5)
            assert not swipe(decider) and sync.version == 2
    # The console is gone too; the edge's sync restarts from what it stored.
    restarted = Decider(CredentialStore.from_dataset({"version": 0}), [LOBBY])
    again = edge(tmp_path, "http://127.0.0.1:9", restarted, [])
    async with running(again.run()):
        await until(lambda: again.version == 2 and again.last_failure is not None)
        assert not swipe(restarted) and restarted.store.version == 2
    mosquitto.start()


async def test_a_document_the_readers_cannot_use_keeps_the_version_in_force(
        tmp_path: Path) -> None:
    from aiohttp import web

    docs: list[dict[str, Any]] = [
        {"version": 1, "cards": {str(CARD): {"holder": "staff:x", "doors": ["b1-lobby"]}},
         "time_profiles": {}, "blocked": []},
        {"version": 2, "cards": {str(CARD): {"holder": "staff:x", "doors": []}},
         "time_profiles": {}, "blocked": []}]

    async def dataset(request: web.Request) -> web.Response:
        return web.json_response(docs[0])

    app = web.Application()
    app.router.add_get(f"/api/sites/{SITE}/access/dataset", dataset)
    server = TestServer(app)
    await server.start_server()
    decider = Decider(CredentialStore.from_dataset({"version": 0}), [LOBBY])
    sync = edge(tmp_path, str(server.make_url("/")).rstrip("/"), decider, [])
    try:
        async with running(sync.run()):
            await until(lambda: sync.version == 1)
            assert swipe(decider)
            docs.pop(0)
            sync.notify("access", 2)
            await until(lambda: sync.last_failure is not None)
            assert sync.version == 1 and swipe(decider)
            assert "cards" in str(sync.last_failure)
            sync.notify("parking", 9)  # another dataset's notice is not ours
            assert sync.status()["wanted"] == 2
        stored = await AccessStore(tmp_path).load()
        assert stored is not None and stored.version == 1  # the bad one was never written
    finally:
        await server.close()


async def test_issued_and_revoked_cards_reach_the_controllers(
        sqlite_url: str, mosquitto: Mosquitto, tmp_path: Path) -> None:
    """The controllers' consumer as the daemon wires it (``edge.access.dataset_wiring``):
    a card issued for door ``1-east`` lands on controller c1 only; revoked, it is deleted."""
    from edge.access.dataset_wiring import access_sync
    from edge.config import load_site
    from tests.support.uhppote_rig import rig

    async with real_console(sqlite_url, mosquitto.url) as (client, cs), rig() as r:
        assert r.driver is not None
        url = str(client.make_url("/")).rstrip("/")
        site = tmp_path / "site.yaml"
        site.write_text(f"""\
site: {{id: {SITE}, name: 阳光花园, timezone: Asia/Shanghai}}
cloud: {{mqtt_url: "{mosquitto.url}", username: {SITE}, password: {SECRET},
        http_url: "{url}"}}
edge: {{data_dir: {tmp_path / 'edge'}}}
""", encoding="utf-8")
        sync = access_sync(load_site(site), None, r.driver)
        assert sync is not None
        async with running(sync.run(), listen(mosquitto.port, sync)):
            resp = await client.post(f"/api/sites/{SITE}/access/cards", headers=cs, json={
                "number": "1001", "staff_name": "保安李强", "doors": ["1-east"]})
            assert resp.status == 201, await resp.text()
            card_id = (await resp.json())["id"]
            await r.until(lambda: 1001 in r.sims["c1"].state.cards, within=15,
                          what="card on c1")
            assert 1001 not in r.sims["c2"].state.cards
            assert r.sims["c1"].state.cards[1001].doors[0] == 1
            resp = await client.post(f"/api/sites/{SITE}/access/cards/{card_id}/revoke",
                                     headers=cs, json={"reason": "离职"})
            assert resp.status == 200, await resp.text()
            await r.until(lambda: 1001 not in r.sims["c1"].state.cards, within=15,
                          what="card deleted from c1")
            assert sync.version == 2
