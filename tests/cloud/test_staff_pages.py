"""Every staff page and every page's scripts come from the console alike: the same strict
CSP, no caching of stale assets, and nothing outside a page's own flat folder of scripts and
style sheets (the six page sets share one helper; a drift in one would show here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud.app import create_app
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.settings import Settings
from cloud.web.pages import CSP, DASHBOARDS_DIR
from tests.support.auth import admin_headers

PAGES = ["/guard", "/guard/", "/login", "/finance", "/records", "/records/import",
         "/workorders/tech", "/workorders/board", "/billing/runs", "/billing/fee-items"]
FOLDERS = {"/guard/static/": "guard", "/login/static/": "login", "/finance/static/": "finance",
           "/records/static/": "records", "/workorders/static/": "workorders",
           "/billing/static/": "billing"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    await migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    app = create_app(Settings(database_url=url, timezone="Asia/Urumqi"), sessions)
    client = TestClient(TestServer(app), headers=await admin_headers(sessions))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await engine.dispose()


async def test_every_page_carries_the_csp_and_no_cache(client: TestClient[Any, Any]) -> None:
    for path in PAGES:
        resp = await client.get(path)
        assert resp.status == 200, path
        assert resp.content_type == "text/html", path
        assert resp.headers["Content-Security-Policy"] == CSP, path
        assert resp.headers["Cache-Control"] == "no-cache", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert "__COURTYARD_" not in await resp.text(), f"a placeholder left on {path}"


async def test_every_script_and_style_of_every_page_set_is_served_as_is(
        client: TestClient[Any, Any]) -> None:
    for prefix, folder in FOLDERS.items():
        files = sorted(p for p in (DASHBOARDS_DIR / folder).iterdir()
                       if p.suffix in (".js", ".css"))
        assert files, folder
        for file in files:
            resp = await client.get(prefix + file.name)
            assert resp.status == 200, file
            assert resp.content_type == ("text/css" if file.suffix == ".css"
                                         else "text/javascript")
            assert resp.headers["Cache-Control"] == "no-cache"
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert await resp.read() == file.read_bytes()


@pytest.mark.parametrize("prefix", list(FOLDERS))
@pytest.mark.parametrize("name", ["index.html", "..%2Fsession.js", "missing.js", ".x.js",
                                  "Board.JS"])
async def test_nothing_else_under_a_static_folder(client: TestClient[Any, Any], prefix: str,
                                                  name: str) -> None:
    resp = await client.get(prefix + name)
    assert resp.status == 404
