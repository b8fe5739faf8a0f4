"""The wall screen's kiosk on SQLite and PostgreSQL: a cockpit token becomes an HttpOnly,
SameSite=Strict cookie that opens the cockpit of its sites (views and the live feed) without
anyone logging in; DELETE clears it. The attacks are in tests/security/test_cockpit_kiosk.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import SimpleCookie

import pytest

from tests.cloud.cockpit import rows
from tests.support.auth import token_headers
from tests.support.console_app import Console, console_app

T0 = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
KIOSK = "/api/cockpit/kiosk"


@dataclass
class Wall:
    console: Console
    bearer: dict[str, str]  # the cockpit token of site north, as the kiosk page sends it

    @property
    def secret(self) -> str:
        return self.bearer["Authorization"].removeprefix("Bearer ")

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"cy_kiosk={self.secret}"}


@pytest.fixture
async def wall(db_url: str) -> AsyncIterator[Wall]:
    async with console_app(db_url, T0) as c:
        async with c.sessions() as s, s.begin():
            await rows.site(s, "north", name="北苑")
            await rows.site(s, "south", name="南苑")
        yield Wall(c, await token_headers(c.sessions, "cockpit", ["north"]))


async def test_a_cockpit_token_becomes_a_strict_http_only_cookie(wall: Wall) -> None:
    resp = await wall.console.client.post(KIOSK, headers=wall.bearer)
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["kiosk"], body["sites"], body["next"]) == (True, ["north"], "/cockpit")
    assert wall.secret not in str(body)  # the answer never repeats the secret
    [header] = resp.headers.getall("Set-Cookie")
    morsel = SimpleCookie(header)["cy_kiosk"]
    assert morsel.value == wall.secret
    assert (morsel["httponly"], morsel["samesite"], morsel["path"], morsel["max-age"]) == (
        True, "Strict", "/", "31536000")
    assert not morsel["secure"]  # plain http here; https sets Secure


async def test_the_cookie_shows_its_sites_cockpit_and_live_feed(wall: Wall) -> None:
    client = wall.console.client
    resp = await client.get("/api/cockpit/sites/north", headers=wall.cookie)
    assert resp.status == 200
    assert (await resp.json())["site"]["slug"] == "north"
    company = await (await client.get("/api/cockpit/company", headers=wall.cookie)).json()
    assert [s["slug"] for s in company["sites"]] == ["north"]
    ws = await client.ws_connect("/api/cockpit/ws?site=north", headers=wall.cookie)
    snap = await ws.receive_json(timeout=15)
    assert (snap["type"], snap["view"], snap["data"]["site"]["slug"]) == (
        "snapshot", "site", "north")
    await ws.close()
    ws = await client.ws_connect("/api/cockpit/ws", headers=wall.cookie)
    snap = await ws.receive_json(timeout=15)
    assert [s["slug"] for s in snap["data"]["sites"]] == ["north"]
    await ws.close()


async def test_delete_clears_the_cookie(wall: Wall) -> None:
    resp = await wall.console.client.delete(KIOSK, headers=wall.cookie)
    assert resp.status == 200 and (await resp.json()) == {"kiosk": False}
    morsel = SimpleCookie(resp.headers["Set-Cookie"])["cy_kiosk"]
    assert (morsel.value, morsel["max-age"]) == ("", "0")
