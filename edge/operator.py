"""The operators' listener: booth payments, manual gate openings, lane states, linkage reset.

Everything here moves a barrier, books money or ends a fire linkage, so it is kept apart from
the cameras' port and the health port and every request must pass, in this order:

1. **Same origin only.** A request carrying an ``Origin`` (or ``Sec-Fetch-Site:
   cross-site``) that is not this listener's own is refused 403: a web page open on the
   guard-room PC cannot reach in.
2. **JSON only.** A POST whose body is not ``application/json`` is refused 415: browsers
   cannot send that cross-site without a preflight, which this listener never answers.
3. **A staff token.** ``Authorization: Bearer cy1.…`` issued by the console for this site
   (``contract.operator_token``), checked offline against the site secret on the injected
   clock: missing, forged, expired or another site's → 401.
4. **The role's right.** Each route names its edge action (``contract.operator_token.
   EDGE_ACTIONS``); a role without it → 403.

Who acted is the token's ``name``/``role``/``sub`` (``operator_label``), never a field of the
body. Refusals are counted (``operator_refused_*``) and logged with the remote address.
The listener binds loopback unless the site file's ``operator`` section says otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import structlog
from aiohttp import hdrs, web

from contract import Clock, jsoncodec
from contract.operator_token import OperatorToken, OperatorTokenError, verify
from drivers.base import DriverStats

log = structlog.get_logger("edge.operator")

OPERATOR_KEY = web.RequestKey("edge_operator", OperatorToken)
_ACTION_ATTR = "__edge_action__"
MAX_BODY_BYTES = 64 * 1024
BIND_RETRY_S = 5.0
H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def needs(action: str) -> Callable[[H], H]:
    """Mark a route handler with the edge action its caller's role must hold."""

    def mark(handler: H) -> H:
        setattr(handler, _ACTION_ATTR, action)
        return handler

    return mark


def operator_of(request: web.Request) -> OperatorToken:
    """The verified operator of a request the guard let through."""
    return request[OPERATOR_KEY]


def operator_label(token: OperatorToken) -> str:
    """How events name who acted: ``张三 (guard, user:12)`` — name, role and console id."""
    return f"{token.name} ({token.role}, {token.sub})"


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=jsoncodec.dumpb(data), status=status,
                        content_type="application/json", headers=headers)


def _refuse(status: int, code: str, zh: str, en: str,
            headers: dict[str, str] | None = None) -> web.Response:
    return _json({"error": f"{zh} / {en}", "code": code, "field": None}, status, headers)


def _same_origin(request: web.Request, origin: str) -> bool:
    return origin.rstrip("/").lower() == f"{request.scheme}://{request.host}".lower()


class OperatorServer:
    """Serves ``routes`` behind the guard described in the module docstring."""

    def __init__(self, site: str, secret: str, clock: Clock, routes: Sequence[web.RouteDef], *,
                 host: str = "127.0.0.1", port: int = 9180,
                 stats: DriverStats | None = None) -> None:
        self.site = site
        self.host = host
        self.port = port
        self._secret = secret
        self._clock = clock
        self._routes = list(routes)
        self.stats = stats if stats is not None else DriverStats()
        self.ready = asyncio.Event()
        self._log = log.bind(site=site)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY_BYTES)
        app.add_routes(self._routes)
        return app

    def _refused(self, request: web.Request, status: int, code: str, zh: str, en: str,
                 **extra: Any) -> web.Response:
        self.stats.inc(f"operator_refused_{code}")
        self._log.warning("操作请求被拒绝 / operator request refused", status=status,
                          reason=code, path=request.path[:200], remote=request.remote, **extra)
        headers = ({"WWW-Authenticate": 'Bearer realm="courtyard-edge"'} if status == 401
                   else None)
        return _refuse(status, code, zh, en, headers)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if (origin is not None and not _same_origin(request, origin)) or (
                request.headers.get("Sec-Fetch-Site") == "cross-site"):
            return self._refused(request, 403, "cross_origin", "拒绝跨站请求",
                                 "cross-origin requests are refused", origin=(origin or "")[:200])
        if request.method not in ("GET", "HEAD", "OPTIONS") and (
                request.content_type != "application/json"):
            return self._refused(request, 415, "not_json", "请求体须为 application/json",
                                 "the body must be application/json",
                                 content_type=request.content_type[:100])
        action = getattr(request.match_info.handler, _ACTION_ATTR, None)
        if action is None:  # no such route (404/405): nothing to protect, nothing to reveal
            return await handler(request)
        scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._refused(request, 401, "no_token", "须携带操作令牌（管理台签发）",
                                 "an operator token issued by the console is required")
        try:
            who = verify(token.strip(), self._secret, site=self.site, now=self._clock.now())
        except OperatorTokenError as exc:
            zh, _, en = str(exc).partition(" / ")
            return self._refused(request, 401, f"token_{exc.reason}", zh, en)
        if not who.may(action):
            return self._refused(request, 403, "role", f"角色 {who.role} 无权执行 {action}",
                                 f"role {who.role} may not do {action}", sub=who.sub,
                                 action=action)
        request[OPERATOR_KEY] = who
        self.stats.inc("operator_requests")
        return await handler(request)

    async def serve(self) -> None:
        """Listen until cancelled, then close the socket. A port that cannot be bound is
        logged and tried again every ``BIND_RETRY_S``: the booth being unreachable must not
        take fire linkage, the gates or the outbox down with it."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            while True:
                try:
                    await web.TCPSite(runner, self.host, self.port).start()
                    break
                except OSError as exc:
                    self.stats.inc("operator_bind_failures")
                    self._log.error("值班操作接口无法监听，稍后重试 / operator listener cannot "
                                    "bind: retrying", url=self.url, error=str(exc),
                                    retry_s=BIND_RETRY_S)
                    await asyncio.sleep(BIND_RETRY_S)
            self._log.info("值班操作接口已启动 / operator listener ready", url=self.url,
                           routes=len(self._routes))
            self.ready.set()
            await asyncio.Event().wait()
        finally:
            self.ready.clear()
            await runner.cleanup()
