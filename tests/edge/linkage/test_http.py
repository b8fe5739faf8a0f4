"""The guard room's view of linkage over the edge's local HTTP: status on the health port,
reset on the operators' listener with a guard token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from edge.linkage import Linkage
from edge.linkage.http import linkage_routes, reset_routes
from edge.operator import OperatorServer
from tests.edge.linkage.conftest import SITE, Site, fire, running
from tests.support.operator import guard_headers

SECRET = "linkage-secret"


@asynccontextmanager
async def client_for(linkage: Linkage, site: Site,
                     burning: Mapping[str, Sequence[str]] | None = None,
                     ) -> AsyncIterator[TestClient[Any, Any]]:
    ops = OperatorServer(SITE, SECRET, site.clock,
                         [*linkage_routes(linkage), *reset_routes(linkage, lambda: burning or {})])
    client = TestClient(TestServer(ops.app()),
                        headers=guard_headers(SECRET, SITE, now=site.clock.now()))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_status_and_reset_over_http(site: Site) -> None:
    async with running(site.linkage()) as linkage, client_for(linkage, site) as client:
        resp = await client.get("/linkage")
        assert resp.status == 200
        body = await resp.json()
        assert body["active"] is False and body["incidents"] == []

        resp = await client.post("/linkage/reset", json={"reason": "测试"})
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
                                 json={"by": "someone else", "reason": "误报 / false alarm"})
        assert resp.status == 200
        body = await resp.json()
        assert body["result"] == "ok" and body["incident"] == incident["id"]
        assert body["by"] == "值班保安 Wang (guard, user:7)"  # the token, not the body's "by"
        assert {(r["target"], r["result"]) for r in body["results"]
                if r["action"] == "release_gate"} >= {("gate-in", "ok"), ("gate-out", "ok")}
        assert not site.gates["gate-in"].held
        assert (await (await client.get("/linkage")).json())["active"] is False


async def test_reset_names_the_missing_field(site: Site) -> None:
    async with running(site.linkage()) as linkage, client_for(linkage, site) as client:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        cases: list[tuple[Any, str | None]] = [
            ({}, "reason"),
            ({"reason": "  "}, "reason"),
            ({"reason": 3}, "reason"),
            (["guard-07"], None),
        ]
        for body, field in cases:
            resp = await client.post("/linkage/reset", json=body)
            assert resp.status == 400, body
            answer = await resp.json()
            assert answer["field"] == field
            assert " / " in answer["error"]           # zh / en
        resp = await client.post("/linkage/reset", data=b"{broken",
                                 headers={"Content-Type": "application/json"})
        assert resp.status == 400
        # None of these reset anything.
        assert linkage.status()["active"] is True and site.gates["gate-in"].held


async def test_reset_is_refused_while_the_panel_still_reports_fire(site: Site) -> None:
    burning = {"uitd-1": ["1:1:40:10:2"]}
    async with running(site.linkage()) as linkage, client_for(linkage, site,
                                                              burning) as client:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        resp = await client.post("/linkage/reset", json={"reason": "误报"})
        assert resp.status == 409
        answer = await resp.json()
        assert "仍报火警" in answer["error"] and "still reports fire" in answer["error"]
        assert answer["active"] == burning
        assert linkage.status()["active"] is True and site.gates["gate-in"].held
