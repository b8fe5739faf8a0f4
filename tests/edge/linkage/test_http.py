"""The guard room's view of linkage over the edge's local HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge.linkage import Linkage
from edge.linkage.http import linkage_routes
from tests.edge.linkage.conftest import Site, fire, running


@asynccontextmanager
async def client_for(linkage: Linkage) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    app.add_routes(linkage_routes(linkage))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_status_and_reset_over_http(site: Site) -> None:
    async with running(site.linkage()) as linkage, client_for(linkage) as client:
        resp = await client.get("/linkage")
        assert resp.status == 200
        body = await resp.json()
        assert body["active"] is False and body["incidents"] == []

        resp = await client.post("/linkage/reset", json={"by": "guard-07", "reason": "测试"})
        assert resp.status == 409
        assert "no linkage is active" in (await resp.json())["error"]

        linkage.notice(fire("1"))
        await linkage.wait_idle()
        body = await (await client.get("/linkage")).json()
        assert body["active"] is True
        [incident] = body["incidents"]
        states = {(a["action"], a["target"]): a["state"] for a in incident["actions"]}
        assert states[("raise_gate", "gate-in")] == "ok"
        assert states[("unlock_doors", "1")] == "noop"

        resp = await client.post("/linkage/reset",
                                 json={"by": "guard-07", "reason": "误报 / false alarm"})
        assert resp.status == 200
        body = await resp.json()
        assert body["result"] == "ok" and body["incident"] == incident["id"]
        assert {(r["target"], r["result"]) for r in body["results"]
                if r["action"] == "release_gate"} >= {("gate-in", "ok"), ("gate-out", "ok")}
        assert not site.gates["gate-in"].held
        assert (await (await client.get("/linkage")).json())["active"] is False


async def test_reset_names_the_missing_field(site: Site) -> None:
    async with running(site.linkage()) as linkage, client_for(linkage) as client:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        cases: list[tuple[Any, str | None]] = [
            ({"reason": "误报"}, "by"),
            ({"by": "  ", "reason": "误报"}, "by"),
            ({"by": "guard-07"}, "reason"),
            ({"by": "guard-07", "reason": 3}, "reason"),
            (["guard-07"], None),
        ]
        for body, field in cases:
            resp = await client.post("/linkage/reset", json=body)
            assert resp.status == 400, body
            answer = await resp.json()
            assert answer["field"] == field
            assert " / " in answer["error"]           # zh / en
        resp = await client.post("/linkage/reset", data=b"{broken")
        assert resp.status == 400
        # None of these reset anything.
        assert linkage.status()["active"] is True and site.gates["gate-in"].held
