"""``courtyard demo`` leaves no admin token behind.

The launcher makes an admin API token to poll the console with. Whoever later finds that
token (in a shell history, a log, a copied data directory) must not get an administrator's
console: the demo revokes it when it stops, and a demo killed before it could clean up has
its token revoked by the next run.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from cloud.app import create_app
from cloud.db.engine import make_engine, session_factory
from cloud.settings import Settings
from contract import SystemClock
from courtyard.demo import demo_credentials, revoke_demo_tokens


async def _status_with(db_url: str, token: str) -> int:
    """What a fresh console process answers to ``GET /api/me`` with ``token``."""
    engine = make_engine(db_url)
    try:
        app = create_app(Settings(database_url=db_url), session_factory(engine), SystemClock())
        async with TestClient(TestServer(app)) as client:
            resp = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            return resp.status
    finally:
        await engine.dispose()


async def test_the_demo_token_is_refused_once_the_demo_stops(db_url: str) -> None:
    _, _, token = await demo_credentials(db_url)
    assert await revoke_demo_tokens(db_url) == 1  # what the demo does on its way out
    assert await _status_with(db_url, token) == 401
    assert await revoke_demo_tokens(db_url) == 0


async def test_a_killed_demos_token_is_revoked_by_the_next_run(db_url: str) -> None:
    _, _, left_behind = await demo_credentials(db_url)  # then SIGKILL: no clean-up
    _, _, current = await demo_credentials(db_url)
    assert await _status_with(db_url, left_behind) == 401
    assert await _status_with(db_url, current) == 200
