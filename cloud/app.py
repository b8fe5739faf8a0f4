"""The console's aiohttp application: the composition root of the web side.

Everything a handler needs (sessions, clock, default time zone, the process status) is passed
in, so tests build the same app against a real database with a fake clock. Every request
passes the staff guard (``cloud.auth.middleware``): who is asking and whether their role may.
The features (``cloud.features``) add their routes; the ingest handlers they register land on
``app[REGISTRY]``, which ``courtyard cloud serve`` hands to its ingest worker.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.policy import AlarmPolicy
from cloud.auth.config import AUTH, AuthConfig
from cloud.auth.middleware import guard_middleware
from cloud.blobs import blob_store_from_settings
from cloud.features import configure, install
from cloud.ingest.handlers import HandlerRegistry
from cloud.openapi_doc import openapi_json
from cloud.rules import STARTUP_FILE
from cloud.rules.evaluate import RuleEngine
from cloud.settings import Settings
from cloud.web.errors import error_middleware
from cloud.web.hygiene import db_error_as_client_error, hygiene_middleware
from cloud.web.keys import BLOBS, CLOCK, DEFAULT_TZ, SESSIONS, STATUS, VIEW_SHARE_S, StatusFn
from cloud.web.shedding import SHEDDER, Shedder
from contract import Clock, SystemClock

__all__ = ["REGISTRY", "StatusFn", "create_app"]

#: The ingest handlers of every feature, as wired for this app.
REGISTRY = web.AppKey("ingest_registry", HandlerRegistry)


def create_app(settings: Settings, session_factory: async_sessionmaker[AsyncSession],
               clock: Clock | None = None, status: StatusFn | None = None, *,
               alarm_policy: AlarmPolicy | None = None,
               rules: RuleEngine | None = None) -> web.Application:
    # The guard runs inside the error middleware, so its refusals are the API's JSON errors;
    # text no handler should see (NUL, lone surrogates) is refused before anything reads it.
    # Load is shed first (``cloud.web.shedding``), before the guard's session look-up.
    shedder = Shedder(settings.max_in_flight)
    app = web.Application(middlewares=[error_middleware, shedder.middleware,
                                       db_error_as_client_error, hygiene_middleware,
                                       guard_middleware],
                          client_max_size=64 * 1024)
    app[SHEDDER] = shedder
    app[AUTH] = AuthConfig.from_settings(settings)
    app[SESSIONS] = session_factory
    app[CLOCK] = clock or SystemClock()
    app[DEFAULT_TZ] = settings.timezone
    app[VIEW_SHARE_S] = settings.cockpit_share_ms / 1000
    app[BLOBS] = blob_store_from_settings(settings)
    if settings.rules_path:
        app[STARTUP_FILE] = settings.rules_path
    if status is not None:
        app[STATUS] = status
    configure(app, alarm_policy=alarm_policy, rules=rules)
    registry = HandlerRegistry()
    install(app, registry)
    app[REGISTRY] = registry
    app.router.add_get("/api/openapi.json", openapi_json, name="openapi")
    return app
