"""The request guard: who is asking (token or session cookie), may they, and CSRF.

Runs inside the error middleware, so a refusal is the API's JSON error (zh/en). The permission
comes from the matched handler (``@requires``): PUBLIC passes without an actor; no actor is a
401 for ``/api`` and a redirect to ``/login`` for pages; a role without the permission is a
403 naming it; a handler without a mark is for administrators only (fail closed).

Bearer requests are exempt from CSRF (a browser never adds that header by itself); a cookie
request with an unsafe method must carry ``X-CSRF-Token`` and, when it sends one, a
same-origin ``Origin``. WebSocket upgrades authenticated by cookie must be same-origin too.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

import structlog
from aiohttp import web

from cloud.auth.accounts import token_actor, user_actor
from cloud.auth.audit import ACTOR_KEY, Actor
from cloud.auth.config import AUTH, CSRF_HEADER, SESSION_COOKIE, TOUCH_EVERY
from cloud.auth.guard import PUBLIC, SIGNED_IN, permission_of
from cloud.auth.roles import ROLE_HOME
from cloud.auth.scope import check_site_slug
from cloud.auth.sessions import csrf_for, session_user
from cloud.auth.tokens import VERIFIED, digest, token_by_secret, token_usable
from cloud.web.errors import ApiError
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.labels import LABELS
from cloud.web.pages import error_page

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: A wall screen's cookie (``cloud.cockpit.kiosk`` sets it): a token of this role only.
KIOSK_COOKIE = "cy_kiosk"
KIOSK_ROLE = "cockpit"
#: Where the request's session id is kept for handlers (logout, /api/me's CSRF token).
SESSION_ID_KEY = web.RequestKey("courtyard_session_id", str)


@dataclass(frozen=True)
class Resolved:
    actor: Actor
    session_id: str | None  # None for a token
    #: Authenticated by the wall screen's ``cy_kiosk`` cookie (read-only, same-origin).
    kiosk: bool = False


def unauthenticated() -> ApiError:
    return ApiError(401, "unauthenticated", "请先登录（或提供 API 令牌）",
                    "log in first (or send an API token)", field="authorization")


def forbidden_page(request: web.Request, actor: Actor, permission: str) -> web.StreamResponse:
    """A page the role may not open: say which right it needs and send the person home (the
    overview ``/`` simply is the home of each role that may not see it)."""
    home = ROLE_HOME.get(actor.role, "/")
    if request.path == "/" and home != "/":
        raise web.HTTPFound(home)
    role_zh, role_en = LABELS["role"].get(actor.role, (actor.role, actor.role))
    right_zh, right_en = LABELS["permission"].get(permission, (permission, permission))
    return error_page(
        403, ("没有权限打开此页", "You may not open this page"),
        (f"你的角色（{role_zh}）没有“{right_zh}”的权限。需要时请联系管理员调整角色；"
         "你的工作页面在下面。",
         f"Your role ({role_en}) may not {right_en}. Ask an administrator if you need it; "
         "your own pages are below."),
        (home, "去我的首页", "Go to my home page"))


def forbidden(permission: str) -> ApiError:
    return ApiError(403, "forbidden", f"当前角色没有权限：{permission}",
                    f"your role lacks the permission: {permission}", field=None,
                    permission=permission)


async def _token(request: web.Request, secret: str, now: datetime, *,
                 kiosk: bool = False) -> Resolved:
    """The actor of an API token; 401 for a bad or stale one. A kiosk cookie's token is
    looked up on every request (no ``VERIFIED`` cache: a revocation from any process ends
    the kiosk at its next request) and must be of role ``cockpit``."""
    key = digest(secret)
    if not kiosk and (cached := VERIFIED.get(key, now)) is not None:
        return Resolved(cached, None)
    async with request.app[SESSIONS]() as session, session.begin():
        token = await token_by_secret(session, secret)
        if (token is None or not token_usable(token, now)
                or (kiosk and token.role != KIOSK_ROLE)):
            raise ApiError(401, "invalid_token", "API 令牌无效、已吊销或已过期",
                           "the API token is invalid, revoked or expired",
                           field=KIOSK_COOKIE if kiosk else "authorization")
        if token.last_used_at is None or token.last_used_at + TOUCH_EVERY <= now:
            token.last_used_at = now
        actor = token_actor(token)
        if not kiosk:
            VERIFIED.put(key, token, actor)
        return Resolved(actor, None, kiosk=kiosk)


async def resolve(request: web.Request) -> Resolved | None:
    """The actor of a Bearer token, a session cookie or (neither given or the session gone)
    a wall screen's kiosk cookie; 401 for a bad or stale token."""
    config = request.app[AUTH]
    now = request.app[CLOCK].now()
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return await _token(request, secret.strip(), now)
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        async with request.app[SESSIONS]() as session, session.begin():
            found = await session_user(session, sid, now, config)
            if found is not None:
                row, user = found
                if row.last_seen_at + TOUCH_EVERY <= now:
                    row.last_seen_at = now
                return Resolved(user_actor(user), sid)
    kiosk = request.cookies.get(KIOSK_COOKIE)
    if kiosk and not header.strip():
        try:
            return await _token(request, kiosk, now, kiosk=True)
        except ApiError:
            if _is_page(request):  # a page sends the screen to log in (or to a new token)
                return None
            raise
    return None


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == (request.host or "").lower()


def _check_csrf(request: web.Request, sid: str) -> None:
    if request.method in UNSAFE:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), csrf_for(sid).encode()):
            raise ApiError(403, "csrf_failed",
                           f"缺少或错误的 {CSRF_HEADER}（从 GET /api/me 取得）",
                           f"missing or wrong {CSRF_HEADER} header (get it from GET /api/me)",
                           field=CSRF_HEADER)
    if (request.method in UNSAFE or request.headers.get("Upgrade", "").lower() == "websocket"
            ) and not _same_origin(request):
        raise ApiError(403, "cross_origin", "拒绝跨站请求", "cross-origin request refused",
                       field="Origin")


def _check_kiosk(request: web.Request) -> None:
    """A kiosk cookie only reads: no unsafe method, and a WebSocket only from this origin."""
    if request.method in UNSAFE:
        raise ApiError(403, "kiosk_read_only", "大屏令牌只能查看驾驶舱",
                       "a wall screen's kiosk cookie may only read the cockpit",
                       field=KIOSK_COOKIE)
    if request.headers.get("Upgrade", "").lower() == "websocket" and not _same_origin(request):
        raise ApiError(403, "cross_origin", "拒绝跨站请求", "cross-origin request refused",
                       field="Origin")


def _is_page(request: web.Request) -> bool:
    return not request.path.startswith("/api/") and request.method in ("GET", "HEAD")


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    match = request.match_info
    if match.http_exception is not None:  # 404/405: nothing to protect
        return await handler(request)
    permission = permission_of(match.handler)
    if permission == PUBLIC:
        return await handler(request)
    resolved = await resolve(request)
    if resolved is None:
        if _is_page(request):
            raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
        raise unauthenticated()
    actor = resolved.actor
    request[ACTOR_KEY] = actor
    if resolved.session_id is not None:
        request[SESSION_ID_KEY] = resolved.session_id
        _check_csrf(request, resolved.session_id)
    if resolved.kiosk:
        _check_kiosk(request)
    needed = permission or "staff.admin"  # unmarked: administrators only
    if needed != SIGNED_IN and not actor.can(needed):
        if _is_page(request):
            return forbidden_page(request, actor, needed)
        raise forbidden(needed)
    if actor.sites is not None:
        slugs = {s for s in (match.get("site"), request.query.get("site")) if s}
        if slugs:
            async with request.app[SESSIONS]() as session:
                for slug in slugs:
                    await check_site_slug(session, request, slug)
    return await handler(request)
