"""The cockpit kiosk's boundary (docs/security.md, "Cockpit kiosk"), each attack performed:

- the ``cy_kiosk`` cookie reads the cockpit and nothing else: other APIs are 403, every unsafe
  method is 403 (even where the role's right would not be checked, e.g. logging out);
- it cannot open another site's view or live feed (404, as for a missing site);
- only a token of role ``cockpit`` becomes a kiosk: an administrator's, a lead's or a
  technician's token is refused (403 naming ``authorization``), and an administrator's secret
  put into the cookie by hand is 401;
- a WebSocket opened from another origin with the cookie is refused;
- a revoked token stops working at the next request, even when another process revoked it
  (the cookie is looked up every time, not through the 5-second token cache), and an open
  live feed is closed;
- a forged cookie is 401 (and a page sends the screen to the login).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import update

from cloud.auth.tables import ApiToken
from cloud.cockpit.live import COCKPIT_LIVE, Timing
from tests.cloud.cockpit import rows
from tests.support.auth import token_headers
from tests.support.console_app import Console, console_app

T0 = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
KIOSK = "/api/cockpit/kiosk"


def cookie(secret: str) -> dict[str, str]:
    return {"Cookie": f"cy_kiosk={secret}"}


def secret_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@dataclass
class Rig:
    console: Console
    kiosk: dict[str, str]  # the cy_kiosk cookie of a cockpit token of site north
    bearer: dict[str, str]

    async def status(self, method: str, path: str, headers: dict[str, str],
                     **kw: object) -> tuple[int, dict[str, object]]:
        resp = await self.console.client.request(method, path, headers=headers,
                                                 allow_redirects=False, **kw)  # type: ignore[arg-type]
        body = await resp.json() if resp.content_type == "application/json" else {}
        return resp.status, body.get("error", body)


@pytest.fixture
async def rig(db_url: str) -> AsyncIterator[Rig]:
    async with console_app(db_url, T0) as c:
        async with c.sessions() as s, s.begin():
            await rows.site(s, "north")
            await rows.site(s, "south")
        bearer = await token_headers(c.sessions, "cockpit", ["north"])
        yield Rig(c, cookie(secret_of(bearer)), bearer)


async def test_the_kiosk_cookie_calls_no_other_api(rig: Rig) -> None:
    assert (await rig.status("GET", "/api/cockpit/sites/north", rig.kiosk))[0] == 200
    for path in ("/api/alarms", "/api/workorders", "/api/staff", "/api/tokens",
                 "/api/sites/north/devices"):
        status, body = await rig.status("GET", path, rig.kiosk)
        assert status == 403, (path, status, body)
    for method, path in (("POST", "/api/alarms/1/acknowledge"), ("POST", "/api/logout"),
                         ("POST", "/api/tokens"), ("POST", KIOSK), ("DELETE", "/api/tokens/1"),
                         ("POST", "/api/me/password")):
        status, body = await rig.status(method, path, rig.kiosk, json={})
        assert (status, body.get("field")) == (403, "cy_kiosk"), (method, path, body)


async def test_the_kiosk_cookie_cannot_open_another_site(rig: Rig) -> None:
    status, body = await rig.status("GET", "/api/cockpit/sites/south", rig.kiosk)
    assert status == 404, body
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await rig.console.client.ws_connect("/api/cockpit/ws?site=south", headers=rig.kiosk)
    assert refused.value.status == 404
    company = (await rig.status("GET", "/api/cockpit/company", rig.kiosk))[1]
    assert [s["slug"] for s in company["sites"]] == ["north"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", ["admin", "operations_lead", "technician"])
async def test_only_a_cockpit_token_becomes_a_kiosk(rig: Rig, role: str) -> None:
    other = await token_headers(rig.console.sessions, role, ["north"])
    resp = await rig.console.client.post(KIOSK, headers=other)
    body = (await resp.json())["error"]
    assert (resp.status, body["field"]) == (403, "authorization"), body
    assert "Set-Cookie" not in resp.headers
    # Its secret put into the cookie by hand is no kiosk either.
    status, body = await rig.status("GET", "/api/cockpit/company", cookie(secret_of(other)))
    assert (status, body["field"]) == (401, "cy_kiosk")


async def test_a_cross_origin_websocket_with_the_cookie_is_refused(rig: Rig) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await rig.console.client.ws_connect(
            "/api/cockpit/ws?site=north", headers=rig.kiosk | {"Origin": "https://evil.example"})
    assert refused.value.status == 403
    host = f"http://{rig.console.client.host}:{rig.console.client.port}"
    ws = await rig.console.client.ws_connect("/api/cockpit/ws?site=north",
                                             headers=rig.kiosk | {"Origin": host})
    assert (await ws.receive_json(timeout=15))["type"] == "snapshot"
    await ws.close()


async def test_a_revoked_token_stops_at_the_next_request(rig: Rig) -> None:
    # The Bearer token is used first, so this process has it in its token cache.
    assert (await rig.status("GET", "/api/cockpit/company", rig.bearer))[0] == 200
    assert (await rig.status("GET", "/api/cockpit/company", rig.kiosk))[0] == 200
    # Revoked elsewhere (the CLI, another console process): only the database knows.
    async with rig.console.sessions() as s, s.begin():
        await s.execute(update(ApiToken).where(ApiToken.role == "cockpit").values(revoked_at=T0))
    status, body = await rig.status("GET", "/api/cockpit/company", rig.kiosk)
    assert (status, body["code"]) == (401, "invalid_token"), body


async def test_an_open_feed_ends_when_its_token_is_revoked(db_url: str) -> None:
    async with console_app(db_url, T0) as c:
        assert c.client.app is not None
        c.client.app[COCKPIT_LIVE].hub.timing = Timing(recheck_s=0.1)  # type: ignore[union-attr]
        async with c.sessions() as s, s.begin():
            await rows.site(s, "north")
        bearer = await token_headers(c.sessions, "cockpit", ["north"])
        admin = await token_headers(c.sessions, "admin")
        ws = await c.client.ws_connect("/api/cockpit/ws?site=north",
                                       headers=cookie(secret_of(bearer)))
        assert (await ws.receive_json(timeout=15))["type"] == "snapshot"
        tokens = await c.call("GET", "/api/tokens", admin, 200)
        [mine] = [t for t in tokens["tokens"] if t["role"] == "cockpit"]
        await c.call("DELETE", f"/api/tokens/{mine['id']}", admin, 200)
        async with asyncio.timeout(15):
            msg = await ws.receive()
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1008)


async def test_a_forged_cookie_is_401(rig: Rig) -> None:
    forged = cookie("cy_" + "A" * 43)
    status, body = await rig.status("GET", "/api/cockpit/company", forged)
    assert (status, body["field"]) == (401, "cy_kiosk")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await rig.console.client.ws_connect("/api/cockpit/ws?site=north", headers=forged)
    assert refused.value.status == 401
    # A page sends the screen to the login instead of an error.
    resp = await rig.console.client.get("/cockpit", headers=forged, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")
