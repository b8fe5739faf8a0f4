"""What the console answers when it cannot serve: 503 with ``Retry-After``, at once.

Two cases, both a 503 a client may retry, never a 500 with a stack trace in the log:

- **Overload** (``shed_middleware``): more requests in flight in this process than
  ``COURTYARD_HTTP_MAX_IN_FLIGHT``. Without a bound, a burst queues for the database pool
  (up to its 30 s timeout), every answer goes late, and the ingest worker that shares the
  pool waits behind the burst. Refusing the excess keeps the admitted requests fast and
  ingest moving. Health checks, metrics and live feeds (WebSocket upgrades, long-lived by
  design) are not counted.
- **The database is unreachable** (``database_unavailable``): refused connections, a pool
  that timed out, a connection lost mid-request.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cloud.web.errors import ApiError, Handler, json_error, wants_page
from cloud.web.pages import error_page

#: Paths never refused for load: a supervisor must still see the console alive.
EXEMPT = frozenset({"/healthz", "/metrics"})
OVERLOAD_RETRY_S = 1
DATABASE_RETRY_S = 5


def overloaded() -> web.Response:
    resp = json_error(ApiError(503, "overloaded", "控制台繁忙，请稍后重试",
                               "the console is busy; retry shortly"))
    resp.headers["Retry-After"] = str(OVERLOAD_RETRY_S)
    return resp


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached now (not a bad query)."""
    if isinstance(exc, PoolTimeout | ConnectionError):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(exc.orig, OSError)
    return isinstance(exc, OSError) and exc.errno is not None


def unavailable(request: web.Request) -> web.Response:
    """503 for an unreachable database: a page for a person's browser, else the API's JSON."""
    if wants_page(request):
        resp = error_page(503, ("数据库暂时无法连接", "The database cannot be reached"),
                          ("控制台正在等待数据库恢复，请稍后刷新本页。",
                           "The console is waiting for its database; reload this page shortly."),
                          (request.path_qs, "重新加载", "Reload"))
    else:
        resp = json_error(ApiError(503, "database_unavailable", "数据库暂时无法连接，请稍后重试",
                                   "the database cannot be reached; retry shortly"))
    resp.headers["Retry-After"] = str(DATABASE_RETRY_S)
    return resp


class Shedder:
    """At most ``limit`` requests in flight (0: no bound); the excess is refused at once.
    ``in_flight`` is what this process is serving now."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.refused = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if (self.limit <= 0 or request.path in EXEMPT
                or request.headers.get("Upgrade", "").lower() == "websocket"):
            return await handler(request)
        if self.in_flight >= self.limit:
            self.refused += 1
            return overloaded()
        self.in_flight += 1
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1


#: The app's ``Shedder`` (its counts for /metrics and tests).
SHEDDER = web.AppKey("shedder", Shedder)
