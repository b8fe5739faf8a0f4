"""The console's aiohttp application: wiring only; handlers live in ``cloud.api``.

Everything a handler needs (sessions, clock, default time zone, the process status) is passed
in, so tests build the same app against a real database with a fake clock. Every request
passes the staff guard (``cloud.auth.middleware``): who is asking and whether their role may.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.api import setup_routes
from cloud.api.errors import error_middleware
from cloud.api.hygiene import db_error_as_client_error, hygiene_middleware
from cloud.api.keys import CLOCK, DEFAULT_TZ, SESSIONS, STATUS, StatusFn
from cloud.auth.config import AUTH, AuthConfig
from cloud.auth.middleware import guard_middleware
from cloud.auth.routes import add_auth_routes
from cloud.settings import Settings
from contract import Clock, SystemClock

__all__ = ["StatusFn", "create_app"]


def create_app(settings: Settings, session_factory: async_sessionmaker[AsyncSession],
               clock: Clock | None = None, status: StatusFn | None = None) -> web.Application:
    # The guard runs inside the error middleware, so its refusals are the API's JSON errors;
    # text no handler should see (NUL, lone surrogates) is refused before anything reads it.
    app = web.Application(middlewares=[error_middleware, db_error_as_client_error,
                                       hygiene_middleware, guard_middleware],
                          client_max_size=64 * 1024)
    app[AUTH] = AuthConfig.from_settings(settings)
    app[SESSIONS] = session_factory
    app[CLOCK] = clock or SystemClock()
    app[DEFAULT_TZ] = settings.timezone
    if status is not None:
        app[STATUS] = status
    setup_routes(app)
    add_auth_routes(app)
    return app
