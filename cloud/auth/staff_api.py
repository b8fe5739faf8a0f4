"""Staff accounts and API tokens for administrators: ``/api/staff`` and ``/api/tokens``.

Only an administrator of every site (``staff.admin`` and no site limit) manages accounts, so
nobody can widen their own reach. Every change is audited in its transaction, without
password hashes; a password reset, deactivation or role change ends the account's sessions.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.accounts import (
    TOKEN_FIELDS,
    USER_FIELDS,
    AccountError,
    check_role,
    create_user,
    site_ids_for,
    slugs_of,
)
from cloud.auth.audit import actor_of, record, snapshot
from cloud.auth.guard import requires
from cloud.auth.passwords import hash_password, password_problem
from cloud.auth.roles import ROLE_LABELS
from cloud.auth.sessions import close_user_sessions
from cloud.auth.tables import ApiToken, StaffUser
from cloud.auth.tokens import VERIFIED, create_token
from cloud.web.body import bool_field, json_object, slug_list, text_field
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS, SITE_CREDENTIALS
from cloud.web.params import int_param
from cloud.web.present import utc_iso
from cloud.web.respond import json_ok

MAX_ID = 2**31 - 1
LIST_DEFAULT_LIMIT = 100
LIST_MAX_LIMIT = 1000
MAX_EXPIRES_DAYS = 3650


def _account_error(err: AccountError) -> ApiError:
    return bad_param(err.field, err.zh, err.en)


def _all_sites_admin(request: web.Request) -> None:
    if actor_of(request).sites is not None:
        raise ApiError(403, "forbidden", "只有管理全部小区的管理员可以管理账号与令牌",
                       "only an administrator of every site manages accounts and tokens",
                       permission="staff.admin")


def _configured_sites(request: web.Request) -> list[str]:
    configured = request.app.get(SITE_CREDENTIALS)
    return [] if configured is None else list(configured)


def _row_id(request: web.Request, what_zh: str, what_en: str) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", what_zh, what_en, raw[:40])
    return int(raw)


async def user_json(session: AsyncSession, u: StaffUser, now: Any) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
            "role_label": ROLE_LABELS.get(u.role, u.role),
            "sites": await slugs_of(session, u.site_ids), "active": u.active,
            "locked": u.locked_until is not None and u.locked_until > now,
            "locked_until": utc_iso(u.locked_until) if u.locked_until else None,
            "failed_logins": u.failed_logins,
            "last_login_at": utc_iso(u.last_login_at) if u.last_login_at else None,
            "password_changed_at": utc_iso(u.password_changed_at),
            "created_at": utc_iso(u.created_at), "updated_at": utc_iso(u.updated_at)}


async def token_json(session: AsyncSession, t: ApiToken, now: Any) -> dict[str, Any]:
    def t_iso(v: Any) -> str | None:
        return utc_iso(v) if v is not None else None
    return {"id": t.id, "name": t.name, "prefix": t.prefix, "role": t.role,
            "sites": await slugs_of(session, t.site_ids), "created_by": t.created_by,
            "created_at": utc_iso(t.created_at), "expires_at": t_iso(t.expires_at),
            "last_used_at": t_iso(t.last_used_at), "revoked_at": t_iso(t.revoked_at),
            "active": t.revoked_at is None and (t.expires_at is None or t.expires_at > now)}


# --- staff ------------------------------------------------------------------------------------


@requires("staff.admin")
async def list_staff(request: web.Request) -> web.Response:
    """Accounts in id order; ``after_id`` pages on (``next_after_id``)."""
    _all_sites_admin(request)
    after = int_param(request, "after_id", 0, 0, MAX_ID)
    limit = int_param(request, "limit", LIST_DEFAULT_LIMIT, 1, LIST_MAX_LIMIT)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        rows = list((await session.scalars(select(StaffUser).where(StaffUser.id > after)
                                           .order_by(StaffUser.id).limit(limit + 1))).all())
        more = len(rows) > limit
        rows = rows[:limit]
        return json_ok({"staff": [await user_json(session, u, now) for u in rows],
                        "next_after_id": rows[-1].id if more else None})


@requires("staff.admin")
async def create_staff(request: web.Request) -> web.Response:
    """``{username, password, role, display_name?, sites?: [slug] | null, active?}``."""
    _all_sites_admin(request)
    body = await json_object(request, allowed=("username", "password", "role", "display_name",
                                               "sites", "active"))
    slugs = slug_list(body, "sites")
    active = bool_field(body, "active")
    now = request.app[CLOCK].now()
    actor = actor_of(request)
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                site_ids = await site_ids_for(session, slugs, create=_configured_sites(request))
                user = await create_user(
                    session, username=body.get("username"),  # type: ignore[arg-type]
                    role=body.get("role"),  # type: ignore[arg-type]
                    password=body.get("password"),  # type: ignore[arg-type]
                    display_name=body.get("display_name"), site_ids=site_ids,
                    active=True if active is None else active, now=now)
                record(session, at=now, actor=actor, action="create", entity="staff_user",
                       entity_id=user.id, after=snapshot(user, USER_FIELDS))
        except AccountError as err:
            raise _account_error(err) from None
        return json_ok(await user_json(session, user, now), status=201)


@requires("staff.admin")
async def get_staff(request: web.Request) -> web.Response:
    _all_sites_admin(request)
    user_id = _row_id(request, "账号", "staff account")
    async with request.app[SESSIONS]() as session:
        user = await session.get(StaffUser, user_id)
        if user is None:
            raise not_found("id", "账号", "staff account", str(user_id))
        return json_ok(await user_json(session, user, request.app[CLOCK].now()))


@requires("staff.admin")
async def update_staff(request: web.Request) -> web.Response:
    """Any of ``{display_name, role, sites, active, password, unlock}``."""
    _all_sites_admin(request)
    user_id = _row_id(request, "账号", "staff account")
    body = await json_object(request, allowed=("display_name", "role", "sites", "active",
                                               "password", "unlock"))
    display_name = text_field(body, "display_name", 64, required=False)
    active = bool_field(body, "active")
    unlock = bool_field(body, "unlock")
    password = body.get("password")
    if password is not None:
        problem = password_problem(password)
        if problem is not None:
            raise bad_param("password", *problem)
    now = request.app[CLOCK].now()
    actor = actor_of(request)
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                user = await session.get(StaffUser, user_id)
                if user is None:
                    raise not_found("id", "账号", "staff account", str(user_id))
                before = snapshot(user, USER_FIELDS)
                end_sessions = False
                if display_name is not None:
                    user.display_name = display_name
                if "role" in body and body["role"] != user.role:
                    user.role = check_role(body["role"])
                    end_sessions = True
                if "sites" in body:
                    user.site_ids = await site_ids_for(session, slug_list(body, "sites"),
                                                       create=_configured_sites(request))
                if active is not None and active != user.active:
                    user.active = active
                    end_sessions = end_sessions or not active
                if unlock:
                    user.locked_until = None
                    user.failed_logins = 0
                if isinstance(password, str):
                    user.password_hash = await asyncio.to_thread(hash_password, password)
                    user.password_changed_at = now
                    end_sessions = True
                user.updated_at = now
                if end_sessions:
                    await close_user_sessions(session, user.id)
                after = snapshot(user, USER_FIELDS)
                detail = {"password_reset": True} if isinstance(password, str) else None
                record(session, at=now, actor=actor, action="update", entity="staff_user",
                       entity_id=user.id, before=before, after=after, detail=detail)
        except AccountError as err:
            raise _account_error(err) from None
        return json_ok(await user_json(session, user, now))


# --- tokens -----------------------------------------------------------------------------------


@requires("staff.admin")
async def list_tokens(request: web.Request) -> web.Response:
    """Tokens newest first (the secret is never shown again); ``?revoked=1`` includes revoked."""
    _all_sites_admin(request)
    revoked = int_param(request, "revoked", 0, 0, 1)
    now = request.app[CLOCK].now()
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if not revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    async with request.app[SESSIONS]() as session:
        rows = (await session.scalars(query.limit(LIST_MAX_LIMIT))).all()
        return json_ok({"tokens": [await token_json(session, t, now) for t in rows]})


@requires("staff.admin")
async def create_api_token(request: web.Request) -> web.Response:
    """``{name, role, sites?, expires_days?}`` → the token, with its secret shown this once."""
    _all_sites_admin(request)
    body = await json_object(request, allowed=("name", "role", "sites", "expires_days"))
    name = text_field(body, "name", 100)
    slugs = slug_list(body, "sites")
    days = body.get("expires_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool)
                             or not 1 <= days <= MAX_EXPIRES_DAYS):
        raise bad_param("expires_days", f"须为 1–{MAX_EXPIRES_DAYS} 的整数",
                        f"must be an integer from 1 to {MAX_EXPIRES_DAYS}")
    now = request.app[CLOCK].now()
    actor = actor_of(request)
    assert name is not None
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                role = check_role(body.get("role"))
                site_ids = await site_ids_for(session, slugs, create=_configured_sites(request))
                row, secret = await create_token(session, name=name, role=role,
                                                 site_ids=site_ids, created_by=actor.name,
                                                 now=now, expires_days=days)
                record(session, at=now, actor=actor, action="create", entity="api_token",
                       entity_id=row.id, after=snapshot(row, TOKEN_FIELDS))
        except AccountError as err:
            raise _account_error(err) from None
        return json_ok({**await token_json(session, row, now), "token": secret}, status=201)


@requires("staff.admin")
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke at once; the row stays for the audit trail."""
    _all_sites_admin(request)
    token_id = _row_id(request, "令牌", "API token")
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        async with session.begin():
            row = await session.get(ApiToken, token_id)
            if row is None:
                raise not_found("id", "令牌", "API token", str(token_id))
            if row.revoked_at is None:
                before = snapshot(row, TOKEN_FIELDS)
                row.revoked_at = now
                VERIFIED.forget(row.id)
                record(session, at=now, actor=actor_of(request), action="revoke",
                       entity="api_token", entity_id=row.id, before=before,
                       after=snapshot(row, TOKEN_FIELDS))
        return json_ok(await token_json(session, row, now))

