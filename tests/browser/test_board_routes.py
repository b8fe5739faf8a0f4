"""The guard board is served by the console itself, complete, with nothing from the internet:
guard rooms often have no internet, and a page that waits for a CDN shows guards nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud.alarms.board import GUARD_DIR, add_board_routes
from cloud.app import create_app
from cloud.auth.login import LOGIN_DIR
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.settings import Settings
from tests.support.auth import admin_headers

PATROL_DIR = GUARD_DIR.parent / "patrol"  # the live rounds panel the board loads


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    await migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    app = create_app(Settings(database_url=url, timezone="Asia/Urumqi"), sessions)
    if not any(r.name == "guard_board" for r in app.router.routes()):
        add_board_routes(app)
    client = TestClient(TestServer(app), headers=await admin_headers(sessions))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await engine.dispose()


async def test_the_page_and_every_asset_it_names_come_from_the_console(
        client: TestClient[Any, Any]) -> None:
    resp = await client.get("/guard")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert "保安看板" in html and "Guard board" in html
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"/guard/static/board.js", "/guard/static/board.css",
            "/guard/static/sounds.js"} <= set(assets)
    for asset in assets:
        if asset.startswith("data:"):
            continue
        # The board's own files, the shell and label table shared by the console's pages, and
        # the patrol feature's live rounds panel.
        assert asset.startswith(("/guard/static/", "/login/static/", "/ui/",
                                 "/patrol/static/")), (
            f"not served by the console: {asset}")
        if asset.startswith("/ui/"):
            got = await client.get(asset)
            assert got.status == 200 and got.content_type in ("text/javascript", "text/css")
            continue
        folder = (GUARD_DIR if asset.startswith("/guard/") else
                  PATROL_DIR if asset.startswith("/patrol/") else LOGIN_DIR)
        got = await client.get(asset)
        assert got.status == 200, asset
        assert got.content_type in ("text/javascript", "text/css")
        assert (await got.read()) == (folder / asset.rsplit("/", 1)[1]).read_bytes()


def test_no_file_of_the_board_reaches_outside_the_console() -> None:
    files = sorted(p for p in GUARD_DIR.iterdir() if p.is_file())
    assert {p.name for p in files} >= {"index.html", "board.js", "board.css", "sounds.js"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        # An absolute URL anywhere (src, href, fetch, @import, url()) would need the internet.
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path.name
        assert path.suffix not in (".mp3", ".wav", ".ogg"), "sounds are synthesised"


@pytest.mark.parametrize("path", [
    "/guard/static/index.html",          # only scripts and style sheets are assets
    "/guard/static/..%2Fboard.js",
    "/guard/static/../../cloud/app.py",
    "/guard/static/missing.js",
    "/guard/static/.board.js",
])
async def test_anything_else_under_static_is_not_found(
        client: TestClient[Any, Any], path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 404
