"""``/healthz``: can this process do its job right now (database, broker, ingest)?

503 when any part is down, so a load balancer or the demo launcher waits for a working
console instead of one that accepts requests it cannot answer.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cloud.auth.guard import PUBLIC, requires
from cloud.web.keys import CLOCK, SESSIONS, STATUS
from cloud.web.present import utc_iso
from cloud.web.respond import json_ok

DB_CHECK_TIMEOUT_S = 3.0


async def _db_ok(request: web.Request) -> dict[str, Any]:
    try:
        async with asyncio.timeout(DB_CHECK_TIMEOUT_S), request.app[SESSIONS]() as session:
            await session.execute(text("SELECT 1"))
        return {"ok": True}
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        return {"ok": False, "error": type(exc).__name__}


@requires(PUBLIC)
async def healthz(request: web.Request) -> web.Response:
    components: dict[str, Any] = {"db": await _db_ok(request)}
    status_fn = request.app.get(STATUS)
    if status_fn is not None:
        for name, state in status_fn().items():
            components[name] = dict(state)
    ok = all(bool(c.get("ok")) for c in components.values())
    body = {"status": "ok" if ok else "degraded", "now": utc_iso(request.app[CLOCK].now()),
            "pid": os.getpid(), **components}  # which of serve --workers N answered
    return json_ok(body, status=200 if ok else 503)
