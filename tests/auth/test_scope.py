"""Site scoping: a token of site A sees nothing of site B (lists filtered, records 404)."""

from __future__ import annotations

from typing import Any

from tests.auth.conftest import Console
from tests.cloud.test_alarms_ingest import Edge, fire_data
from tests.support.auth import admin_headers, token_headers


async def _json(console: Console, method: str, path: str, headers: dict[str, str],
                status: int, body: Any = None) -> Any:
    resp = await console.client.request(method, path, headers=headers, json=body)
    got = await resp.json()
    assert resp.status == status, (method, path, resp.status, got)
    return got


async def test_a_token_of_one_site_sees_only_that_sites_alarms_and_orders(
        console: Console) -> None:
    for site in ("garden", "lake"):
        edge = Edge(console.sessions, console.clock, site=site)
        await edge.send(edge.event("fire.alarm", fire_data()))
    admin = await admin_headers(console.sessions)
    orders = {}
    for site in ("garden", "lake"):
        orders[site] = (await _json(console, "POST", "/api/workorders", admin, 201, {
            "site": site, "category": "plumbing", "title": f"{site} 漏水",
            "requested_by": "业主"}))["id"]
    alarms = {a["site"]: a["id"] for a in
              (await _json(console, "GET", "/api/alarms", admin, 200))["alarms"]}
    assert set(alarms) == {"garden", "lake"}

    garden = await token_headers(console.sessions, "operations_lead", sites=["garden"])
    seen = await _json(console, "GET", "/api/alarms", garden, 200)
    assert [a["site"] for a in seen["alarms"]] == ["garden"]
    listed = await _json(console, "GET", "/api/workorders", garden, 200)
    assert [o["site"] for o in listed["workorders"]] == ["garden"]
    sites = await _json(console, "GET", "/api/sites", garden, 200)
    assert [s["slug"] for s in sites["sites"]] == ["garden"]

    # Another site's records and filters are 404, as if they did not exist.
    await _json(console, "GET", f"/api/alarms/{alarms['lake']}", garden, 404)
    await _json(console, "GET", f"/api/workorders/{orders['lake']}", garden, 404)
    await _json(console, "GET", "/api/alarms?site=lake", garden, 404)
    await _json(console, "GET", "/api/sites/lake/events", garden, 404)
    await _json(console, "GET", "/api/sites/lake/parking/blacklist", garden, 404)
    await _json(console, "POST", f"/api/alarms/{alarms['lake']}/acknowledge", garden, 404, {})
    await _json(console, "POST", f"/api/workorders/{orders['lake']}/cancel", garden, 404,
                {"note": "不是我的"})
    await _json(console, "POST", "/api/workorders", garden, 404, {
        "site": "lake", "category": "plumbing", "title": "x", "requested_by": "y"})
    # Its own site works, and the actor's name is recorded when the body names nobody.
    acked = await _json(console, "POST", f"/api/alarms/{alarms['garden']}/acknowledge",
                        garden, 200, {})
    assert acked["acknowledged_by"].startswith("token:test-operations_lead")
    trail = await _json(console, "GET", "/api/audit?entity=alarm", admin, 200)
    assert [(e["action"], e["site"]) for e in trail["entries"]] == [("acknowledge", "garden")]
    assert trail["entries"][0]["actor"].startswith("token:")
    # The scoped reader of the audit log sees only its site's entries.
    mine = await _json(console, "GET", "/api/audit", garden, 200)
    assert {e["site"] for e in mine["entries"]} == {"garden"}
