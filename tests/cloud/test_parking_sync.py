"""Dataset versions announced on ``down/sync`` through a real Mosquitto: retained, so an edge
that connects later still learns them; never in the way of the edit; caught up after an
outage and after a restart."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.mosquitto_acl import acl_text
from cloud.parking.routes import configure_parking
from cloud.parking.sync import SyncPublisher
from cloud.settings import Settings
from contract import FakeClock, topics
from tests.cloud.test_parking_api import CREDENTIALS, T0
from tests.support import services
from tests.support.auth import admin_headers
from tests.support.services import Mosquitto

CLOUD_USER, CLOUD_PASSWORD = "_courtyard-cloud", "cloud-pw"


@asynccontextmanager
async def console(db_url: str, publisher: SyncPublisher | None = None,
                  ) -> AsyncIterator[tuple[TestClient[Any, Any],
                                           async_sessionmaker[AsyncSession]]]:
    """The API with the publisher wired as ``cloud.serve`` does, the publisher running."""
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    app = create_app(Settings(database_url=db_url), sessions, FakeClock(T0))
    configure_parking(app, CREDENTIALS, publisher)
    task = asyncio.create_task(publisher.run()) if publisher is not None else None
    client = TestClient(TestServer(app), headers=await admin_headers(sessions))
    await client.start_server()
    try:
        yield client, sessions
    finally:
        await client.close()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def retained(port: int, topic: str, want: int, *, user: str | None = None,
                   password: str | None = None, within: float = 3.0) -> dict[str, Any]:
    """What a freshly connected edge is handed on ``topic``: {topic: payload}."""
    out: dict[str, Any] = {}
    async with aiomqtt.Client("127.0.0.1", port, username=user, password=password,
                              identifier=f"edge-{uuid.uuid4().hex[:8]}", timeout=5) as edge:
        await edge.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(within):
                async for message in edge.messages:
                    assert message.retain, "an edge connecting later gets the retained one"
                    assert isinstance(message.payload, bytes)
                    out[str(message.topic)] = json.loads(message.payload)
                    if len(out) >= want:
                        break
        except TimeoutError:
            pass
    return out


async def eventually_version(port: int, site: str, version: int, within: float = 20.0) -> None:
    topic = topics.down_sync(site)
    async with asyncio.timeout(within):
        while True:
            got = await retained(port, topic, 1, within=1.0)
            if got.get(topic) == {"dataset": "parking", "version": version}:
                return
            await asyncio.sleep(0.2)


async def add_vehicle(client: TestClient[Any, Any], site: str, plate: str) -> int:
    started = time.monotonic()
    resp = await client.post(f"/api/sites/{site}/parking/vehicles",
                             json={"plate": plate, "holder": "张伟"})
    assert resp.status == 201, await resp.text()
    assert time.monotonic() - started < 2.0, "the edit never waits for the broker"
    return int((await resp.json())["version"])


async def test_a_write_is_announced_retained_and_caught_up_after_a_broker_outage(
        db_url: str, mosquitto: Mosquitto) -> None:
    publisher = SyncPublisher(mosquitto.url, None, None, max_backoff=1.0)
    async with console(db_url, publisher) as (client, _):
        async with asyncio.timeout(10):
            while not publisher.connected:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert await add_vehicle(client, "demo", "粤B12345") == 1
        await eventually_version(mosquitto.port, "demo", 1)
        assert publisher.sent("demo", "parking") == 1

        mosquitto.stop()
        assert await add_vehicle(client, "demo", "粤B22222") == 2
        assert await add_vehicle(client, "demo", "粤B33333") == 3
        async with asyncio.timeout(10):
            while publisher.connected:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert publisher.pending == 1  # only the newest version per site is kept
        mosquitto.start()
        await eventually_version(mosquitto.port, "demo", 3)
        assert publisher.pending == 0 and publisher.counters["disconnects"] >= 1


async def test_a_starting_publisher_announces_every_stored_version_under_the_site_acl(
        sqlite_url: str) -> None:
    """A version committed while no publisher ran (a crash right after the commit, a broker
    that lost its retained messages) is announced when a publisher connects; each edge reads
    only its own site's announcement, as the production ACL allows."""
    users = {CLOUD_USER: CLOUD_PASSWORD, **CREDENTIALS}
    with services.own_mosquitto(users=users, acl=acl_text([CLOUD_USER])) as broker:
        async with console(sqlite_url) as (client, sessions):
            assert await add_vehicle(client, "demo", "粤B12345") == 1
            assert await add_vehicle(client, "demo", "粤B22222") == 2
            assert await add_vehicle(client, "north", "粤B12345") == 1
            publisher = SyncPublisher(broker.url, CLOUD_USER, CLOUD_PASSWORD,
                                      sessions=sessions, max_backoff=1.0)
            task = asyncio.create_task(publisher.run())

            def announced() -> bool:
                return (publisher.sent("demo", "parking"),
                        publisher.sent("north", "parking")) == (2, 1)

            try:
                async with asyncio.timeout(10):
                    while not announced():  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        demo = await retained(broker.port, topics.down_filter("demo"), 2, user="demo",
                              password="demo-secret", within=1.5)
        assert demo == {topics.down_sync("demo"): {"dataset": "parking", "version": 2}}
        north = await retained(broker.port, topics.down_filter("north"), 2, user="north",
                               password="north-secret", within=1.5)
        assert north == {topics.down_sync("north"): {"dataset": "parking", "version": 1}}
        assert await retained(broker.port, topics.down_sync("demo"), 1, user="north",
                              password="north-secret", within=1.0) == {}


async def test_serve_wires_the_publisher_and_the_site_credentials(tmp_path: Path) -> None:
    """``courtyard cloud serve`` with its embedded broker: an edit reaches the site's edge as
    a retained announcement, and the edge pulls the dataset with its MQTT credential."""
    from cloud.serve import serve

    http, mqtt = services.free_port(), services.free_port()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
                        broker_port=mqtt, http_port=http, mqtt_password="pw",
                        site_credentials={"demo": "demo-secret-0001"})
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(settings, ready, stop=stop))
    try:
        async with asyncio.timeout(30):
            await ready.wait()
        base = f"http://127.0.0.1:{http}/api/sites/demo/parking"
        engine = make_engine(settings.database_url)
        try:
            staff = await admin_headers(session_factory(engine))
        finally:
            await engine.dispose()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5),
                                         headers=staff) as s:
            async with s.post(f"{base}/blacklist",
                              json={"plate": "粤B44444", "reason": "冲卡"}) as resp:
                assert resp.status == 201, await resp.text()
            async with asyncio.timeout(15):
                while True:
                    got = await retained(mqtt, topics.down_filter("demo"), 1, user="demo",
                                         password="demo-secret-0001", within=1.0)
                    if got:
                        break
            assert got == {topics.down_sync("demo"): {"dataset": "parking", "version": 1}}
            auth = {"Authorization": aiohttp.encode_basic_auth("demo", "demo-secret-0001")}
            async with s.get(f"{base}/dataset", headers=auth) as resp:
                assert resp.status == 200 and resp.headers["ETag"] == '"parking-1"'
                assert (await resp.json())["blacklist"] == [{"plate": "粤B44444",
                                                             "reason": "冲卡"}]
            async with s.get(f"http://127.0.0.1:{http}/healthz") as resp:
                assert (await resp.json())["sync"]["connected"] is True
    finally:
        stop.set()
        async with asyncio.timeout(20):
            await task
