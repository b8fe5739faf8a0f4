"""Logging in and out: ``/login`` (the page), ``POST /api/login``, ``POST /api/logout``,
``GET /api/me`` and ``POST /api/me/password``.

A login is refused alike for an unknown name, a wrong password and a locked account (same
status, same body, the same argon2 time: the password is checked even when the answer is
already known), so the answer never tells which usernames exist. Failures count per account:
after ``login_max_failures`` in a row it is locked for ``login_lockout_minutes`` (the audit log
says so; an administrator can unlock it); independently, attempts per remote address and per
username are rate-limited (429 with Retry-After). Every login and failed login is in the
audit log, never with the password.

Where the browser goes after logging in (``next``) is decided here, not by the page: only a
path on this console (``safe_next``), so ``/login?next=…`` cannot send anyone off-site.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import web
from sqlalchemy import delete, select

from cloud.auth.accounts import site_list, site_names, slugs_of, user_actor
from cloud.auth.audit import Actor, actor_of, record
from cloud.auth.config import AUTH, SESSION_COOKIE
from cloud.auth.guard import PUBLIC, SIGNED_IN, requires
from cloud.auth.middleware import SESSION_ID_KEY, _same_origin
from cloud.auth.nav import nav_for
from cloud.auth.passwords import (
    MAX_LENGTH,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from cloud.auth.roles import PERMISSIONS, ROLE_HOME, ROLE_LABELS, ROLES
from cloud.auth.sessions import close_session, csrf_for, open_session
from cloud.auth.tables import StaffSession, StaffUser
from cloud.auth.tokens import digest
from cloud.web.body import json_object, text_field
from cloud.web.errors import ApiError, bad_param
from cloud.web.keys import CLOCK, DEFAULT_TZ, SESSIONS
from cloud.web.pages import PageSet
from cloud.web.present import utc_iso
from cloud.web.respond import json_ok

LOGIN = PageSet("login", "登录页面文件缺失 / login page files are missing")
LOGIN_DIR = LOGIN.folder


def _remote(request: web.Request) -> str:
    return (request.remote or "unknown")[:64]


def _too_many(seconds: int) -> ApiError:
    return ApiError(429, "too_many_attempts",
                    f"登录尝试过于频繁，请 {seconds} 秒后再试",
                    f"too many login attempts; try again in {seconds} s", field=None,
                    retry_after=seconds)


def _invalid() -> ApiError:
    """The one refusal for an unknown name, a wrong password and a locked account."""
    return ApiError(401, "invalid_credentials",
                    "用户名或密码错误（连续失败多次后账号会暂时锁定）",
                    "wrong username or password (after repeated failures the account is "
                    "locked for a while)", field="password")


_UNSAFE_IN_PATH = re.compile(r"[\x00-\x20\x7f\\]")
MAX_NEXT = 2000


def safe_next(raw: object) -> str:
    """``raw`` when it is a path on this console, else ``/``.

    It must start with a single ``/`` (``//host`` is another site), and neither it nor its
    percent-decoded forms may hold a backslash, whitespace or a control character (browsers
    drop a tab or newline from ``/%09/evil`` and read ``//evil``).
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_NEXT:
        return "/"
    text = raw
    for _ in range(3):  # a double-encoded %2509 too
        parts = urlsplit(text)
        if (not text.startswith("/") or text.startswith("//") or parts.scheme
                or parts.netloc or _UNSAFE_IN_PATH.search(text)):
            return "/"
        text = unquote(text)
    return raw


def _login_actor(user: StaffUser | None, username: str) -> Actor:
    if user is not None:
        return user_actor(user)
    return Actor("anonymous", username[:100], "", frozenset())


@requires(PUBLIC)
async def login(request: web.Request) -> web.Response:
    """``{username, password}`` → a session cookie and the account (``GET /api/me``'s body)."""
    config = request.app[AUTH]
    now = request.app[CLOCK].now()
    if not _same_origin(request):
        raise ApiError(403, "cross_origin", "拒绝跨站登录", "cross-origin login refused",
                       field="Origin")
    body = await json_object(request, allowed=("username", "password", "next"))
    username = text_field(body, "username", 64)
    password = body.get("password")
    if not isinstance(password, str) or not password or len(password) > MAX_LENGTH:
        raise bad_param("password", "必须填写密码", "the password is required")
    assert username is not None
    remote = _remote(request)
    key = username.lower()
    # Counted in the database, so guesses spread over several console processes add up.
    async with request.app[SESSIONS]() as session, session.begin():
        wait = max(await config.by_address.retry_after(session, remote, now),
                   await config.by_username.retry_after(session, key, now))
        if not wait:
            await config.by_address.hit(session, remote, now)
            await config.by_username.hit(session, key, now)
    if wait:
        err = _too_many(wait)
        resp = json_ok(err.body(), status=429)
        resp.headers["Retry-After"] = str(wait)
        return resp
    failure: ApiError | None = None
    sid: str | None = None
    async with request.app[SESSIONS]() as session:
        async with session.begin():
            user = (await session.scalars(select(StaffUser).where(
                StaffUser.username == username))).one_or_none()
            actor = _login_actor(user, username)
            detail: dict[str, Any] = {"remote": remote, "username": username}
            # The hash is checked in every case, so a locked or unknown name costs the same.
            ok = await asyncio.to_thread(
                verify_password, None if user is None else user.password_hash, password)
            if user is not None and user.locked_until is not None and user.locked_until > now:
                failure = _invalid()
                detail["reason"] = "locked"
                detail["locked_until"] = utc_iso(user.locked_until)
            else:
                if user is None or not ok:
                    failure = _invalid()
                    detail["reason"] = "unknown_user" if user is None else "wrong_password"
                    if user is not None:
                        user.failed_logins += 1
                        if user.failed_logins >= config.max_failures:
                            user.locked_until = now + config.lockout
                            user.failed_logins = 0
                            detail["locked_until"] = utc_iso(user.locked_until)
                elif not user.active:
                    failure = ApiError(403, "account_disabled", "账号已停用",
                                       "this account is disabled", field="username")
                    detail["reason"] = "disabled"
            if failure is not None:
                record(session, at=now, actor=actor, action="login_failed", entity="staff_user",
                       entity_id=None if user is None else user.id, detail=detail)
            else:
                assert user is not None
                user.failed_logins = 0
                user.locked_until = None
                user.last_login_at = now
                if needs_rehash(user.password_hash):
                    user.password_hash = await asyncio.to_thread(hash_password, password)
                sid = await open_session(session, user, now, config, remote)
                record(session, at=now, actor=actor, action="login", entity="staff_user",
                       entity_id=user.id, detail={"remote": remote})
        if failure is not None:
            raise failure
        assert user is not None and sid is not None
        me = await me_json(session, user_actor(user), "user", csrf_for(sid), user,
                           request.app[DEFAULT_TZ])
    # No page asked for (or an unsafe one): the role's own home, not a page it may not open.
    landing = safe_next(body.get("next", "/"))
    resp = json_ok(me | {"next": landing if landing != "/" else me["home"]})
    resp.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax", path="/",
                    secure=config.cookie_secure,
                    max_age=int(config.absolute.total_seconds()))
    return resp


@requires(SIGNED_IN)
async def logout(request: web.Request) -> web.Response:
    """End this browser's session (a token stays valid: revoke it instead)."""
    sid = request.get(SESSION_ID_KEY)
    actor = actor_of(request)
    if isinstance(sid, str):
        async with request.app[SESSIONS]() as session, session.begin():
            await close_session(session, sid)
            record(session, at=request.app[CLOCK].now(), actor=actor, action="logout",
                   entity="staff_user", entity_id=actor.ref.partition(":")[2])
    resp = json_ok({"logged_out": True})
    resp.del_cookie(SESSION_COOKIE, path="/")
    return resp


async def me_json(session: Any, actor: Actor, kind: str, csrf: str | None,
                  user: StaffUser | None = None, default_tz: str = "Asia/Shanghai"
                  ) -> dict[str, Any]:
    return {"kind": kind, "ref": actor.ref, "name": actor.name,
            "username": None if user is None else user.username,
            "role": actor.role, "role_label": ROLE_LABELS.get(actor.role, actor.role),
            "home": ROLE_HOME.get(actor.role, "/"),
            "sites": await slugs_of(session, None if actor.sites is None
                                    else sorted(actor.sites)),
            "site_names": await site_names(session, actor.sites),
            "site_list": await site_list(session, actor.sites, default_tz),
            "timezone": default_tz,
            "nav": nav_for(actor.role),
            "permissions": [p for p in PERMISSIONS if p in ROLES.get(actor.role, ())],
            "csrf_token": csrf}



@requires(SIGNED_IN)
async def me(request: web.Request) -> web.Response:
    """Who is asking, what they may do, and (for a browser) the CSRF token to send."""
    actor = actor_of(request)
    sid = request.get(SESSION_ID_KEY)
    async with request.app[SESSIONS]() as session:
        user = None
        if actor.ref.startswith("user:"):
            user = await session.get(StaffUser, int(actor.ref[5:]))
        return json_ok(await me_json(session, actor, "user" if user else "token",
                                     csrf_for(sid) if isinstance(sid, str) else None, user,
                                     request.app[DEFAULT_TZ]))


@requires(SIGNED_IN)
async def change_password(request: web.Request) -> web.Response:
    """``{current_password, new_password}``; other sessions of the account end."""
    actor = actor_of(request)
    if not actor.ref.startswith("user:"):
        raise ApiError(400, "not_a_user", "API 令牌没有密码", "an API token has no password",
                       field="authorization")
    body = await json_object(request, allowed=("current_password", "new_password"))
    current = body.get("current_password")
    new = body.get("new_password")
    if not isinstance(current, str) or not current:
        raise bad_param("current_password", "必须填写当前密码", "the current password is required")
    problem = password_problem(new)
    if problem is not None:
        raise bad_param("new_password", *problem)
    assert isinstance(new, str)
    now = request.app[CLOCK].now()
    sid = request.get(SESSION_ID_KEY)
    async with request.app[SESSIONS]() as session, session.begin():
        user = await session.get(StaffUser, int(actor.ref[5:]))
        if user is None or not await asyncio.to_thread(verify_password, user.password_hash,
                                                       current):
            raise bad_param("current_password", "当前密码错误", "the current password is wrong")
        user.password_hash = await asyncio.to_thread(hash_password, new)
        user.password_changed_at = now
        user.updated_at = now
        query = delete(StaffSession).where(StaffSession.user_id == user.id)
        if isinstance(sid, str):
            query = query.where(StaffSession.id_hash != digest(sid))
        await session.execute(query)
        record(session, at=now, actor=actor, action="password_change", entity="staff_user",
               entity_id=user.id)
    return json_ok({"changed": True})


@requires(PUBLIC)
async def login_page(request: web.Request) -> web.Response:
    return await LOGIN.page("index.html")


@requires(PUBLIC)
async def login_asset(request: web.Request) -> web.StreamResponse:
    """The login page's script and style, and ``session.js`` the other pages share."""
    return await LOGIN.asset(request)
