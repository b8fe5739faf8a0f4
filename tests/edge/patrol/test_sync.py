"""The patrol dataset from a console stand-in (a tiny aiohttp server with the console's
version/ETag rules) to the edge's rounds: pulled at start with the site credential, 304 when
nothing changed, pulled on a ``down/sync`` notice and periodically, cached so a restart with
the console unreachable keeps the last version, and a broken document never replaces it."""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from contract.datasets import etag
from contract.patrol import PatrolDocument
from edge.patrol.sync import PatrolSync

SITE, USER, SECRET = "demo", "demo", "demo-secret-0001"


def document(version: int) -> dict[str, Any]:
    return {"version": version,
            "checkpoints": {"cp-gate": {"name": "北门岗亭", "building": "", "floor": "",
                                        "area": "北门", "receiver": "omg-north", "qr": False}},
            "routes": {}, "plans": {},
            "tags": {"ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949":
                     {"guard": "张保安", "label": "巡更棒 07"}}}


class Console:
    """Serves one document under the console's rules and records what the edge sent."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = document(3)
        self.requests: list[dict[str, str]] = []

    async def dataset(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.headers))
        want = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
        if request.headers.get("Authorization") != want:
            return web.Response(status=401)
        tag = etag("patrol", self.doc["version"])
        if request.headers.get("If-None-Match") == tag:
            return web.Response(status=304, headers={"ETag": tag})
        return web.json_response(self.doc, headers={"ETag": tag})


class MemoryCache:
    """The store's dataset seam; survives "restarts" by being shared between syncs."""

    def __init__(self) -> None:
        self.doc: PatrolDocument | None = None
        self.saves = 0

    async def load_dataset(self) -> PatrolDocument | None:
        return copy.deepcopy(self.doc)

    async def save_dataset(self, doc: PatrolDocument) -> None:
        self.doc, self.saves = copy.deepcopy(doc), self.saves + 1


@asynccontextmanager
async def console_server(console: Console) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get(f"/api/sites/{SITE}/patrol/dataset", console.dataset)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@asynccontextmanager
async def running(base: str | None, cache: MemoryCache, **kw: Any
                  ) -> AsyncIterator[tuple[PatrolSync, list[int]]]:
    seen: list[int] = []

    async def consume(doc: PatrolDocument) -> None:
        seen.append(doc["version"])

    sync = PatrolSync(SITE, base, USER, SECRET, cache, consume, backoff_initial=0.05,
                      backoff_cap=0.2, timeout=2.0, **kw)
    task = asyncio.create_task(sync.run())
    try:
        yield sync, seen
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_pull_at_start_then_304_then_a_notice_brings_the_new_version() -> None:
    console, cache = Console(), MemoryCache()
    async with console_server(console) as base, running(base, cache) as (sync, seen):
        await until(lambda: seen == [3])
        assert cache.doc is not None and cache.doc["version"] == 3
        assert "If-None-Match" not in console.requests[0]
        sync.pull_now()  # nothing new: a 304, the rounds are not reloaded
        await until(lambda: len(console.requests) == 2)
        assert console.requests[1]["If-None-Match"] == '"patrol-3"'
        await until(lambda: sync.stats.get("patrol_sync_not_modified") == 1)
        sync.notify("access", 9)  # not ours
        console.doc = document(4)
        sync.notify("patrol", 4)
        await until(lambda: seen == [3, 4])
        assert sync.status()["version"] == 4 and sync.status()["last_failure"] is None
        sync.notify("patrol", 4)  # the retained notice on a reconnect: no pull
        await asyncio.sleep(0)
        assert cache.saves == 2 and len(console.requests) == 3


async def test_a_version_published_without_a_notice_arrives_with_the_periodic_pull() -> None:
    console, cache = Console(), MemoryCache()
    async with console_server(console) as base, running(base, cache, every_s=0.2) as (_, seen):
        await until(lambda: seen == [3])
        console.doc = document(5)
        await until(lambda: seen == [3, 5])


async def test_a_restart_with_the_console_gone_keeps_the_cached_version() -> None:
    console, cache = Console(), MemoryCache()
    async with console_server(console) as base:
        async with running(base, cache) as (_, seen):
            await until(lambda: seen == [3])
    # The console's port is closed now: the edge starts from the cache and says why it
    # cannot pull.
    async with running(base, cache) as (sync, seen):
        await until(lambda: sync.last_failure is not None)
        assert seen == [3] and sync.version == 3
        assert sync.last_failure is not None and sync.last_failure.reason == "unreachable"
        assert "cannot reach the console" in str(sync.status()["last_failure"])


async def test_a_refused_credential_or_a_broken_document_leaves_the_version_in_force() -> None:
    console, cache = Console(), MemoryCache()
    async with console_server(console) as base:
        async with running(base, cache) as (sync, seen):
            await until(lambda: seen == [3])
            console.doc = {"version": 6, "checkpoints": [], "routes": {}}
            sync.notify("patrol", 6)
            await until(lambda: sync.stats.get("patrol_sync_error_bad_document") >= 1)
            assert seen == [3] and cache.doc is not None and cache.doc["version"] == 3
        async with running(base, cache) as (sync, seen):
            sync._headers["Authorization"] = "Basic bm9ib2R5Og=="  # a wrong site password
            await until(lambda: sync.stats.get("patrol_sync_error_http_status") >= 1)
            assert seen == [3] and "HTTP 401" in str(sync.status()["last_failure"])


async def test_without_a_console_url_the_cache_is_used_and_nothing_is_pulled() -> None:
    cache = MemoryCache()
    await cache.save_dataset(document(2))  # type: ignore[arg-type]
    async with running(None, cache) as (sync, seen):
        await until(lambda: seen == [2])
        assert sync.stats.get("patrol_sync_pulls") == 0
