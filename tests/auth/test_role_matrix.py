"""The role matrix, over every registered route: a role lacking a route's permission gets 403
before the handler runs, a role holding it gets past the guard; every /api route declares one.

Routes are read from the app itself, so routes other modules add are covered automatically.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud.app import create_app
from cloud.auth.guard import PUBLIC, SIGNED_IN, permission_of
from cloud.auth.roles import ROLE_HOME, ROLES, allows
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.settings import Settings
from tests.support.auth import token_headers

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _routes() -> list[tuple[str, str, str | None]]:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"), None)  # type: ignore[arg-type]
    out = []
    for r in app.router.routes():
        if r.method == "HEAD" or r.resource is None:
            continue
        out.append((r.method, r.resource.canonical, permission_of(r.handler)))
    return sorted(set(out))


ROUTES = _routes()


def test_every_api_route_declares_a_permission() -> None:
    missing = [f"{m} {p}" for m, p, perm in ROUTES if p.startswith("/api") and perm is None]
    assert missing == [], f"routes without @requires (admin only): {missing}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """One migrated database with a token per role (all sites)."""
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('matrix')) / 'cloud.db'}"

    async def setup() -> dict[str, Any]:
        await migrate(url)
        engine = make_engine(url)
        try:
            sessions = session_factory(engine)
            return {role: await token_headers(sessions, role) for role in ROLES}
        finally:
            await engine.dispose()

    yield url, asyncio.run(setup())


def _fill(path: str) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        return {"site": "demo", "name": "missing.js", "lot": "main"}.get(name, "1")
    return re.sub(r"\{([^}]+)\}", one, path)


@pytest.mark.parametrize(("method", "path", "permission"),
                         [r for r in ROUTES if r[2] not in (PUBLIC, SIGNED_IN)],
                         ids=[f"{m} {p}" for m, p, perm in ROUTES
                              if perm not in (PUBLIC, SIGNED_IN)])
async def test_each_role_gets_403_exactly_without_the_permission(
        world: tuple[str, dict[str, Any]], method: str, path: str,
        permission: str | None) -> None:
    url, headers = world
    needed = permission or "staff.admin"
    engine = make_engine(url)
    app = create_app(Settings(database_url=url), session_factory(engine))
    try:
        async with TestClient(TestServer(app)) as client:
            anonymous = await client.request(method, _fill(path), allow_redirects=False)
            assert anonymous.status in (401, 302)
            for role, auth in headers.items():
                if method in UNSAFE and allows(role, needed):
                    continue  # enough that the guard refuses the others; no junk writes
                resp = await client.request(method, _fill(path), headers=auth,
                                            allow_redirects=False)
                if allows(role, needed):
                    assert resp.status not in (401, 403), (role, resp.status, await resp.text())
                elif path == "/":  # the overview sends a role that may not see it home
                    assert resp.status == 302, (role, resp.status)
                    assert resp.headers["Location"] == ROLE_HOME[role]
                else:
                    assert resp.status == 403, (role, resp.status)
                    if path.startswith("/api"):
                        err = (await resp.json())["error"]
                        assert err["permission"] == needed
    finally:
        await engine.dispose()
