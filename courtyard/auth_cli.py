"""``courtyard cloud token …`` and ``courtyard cloud user …``: the first admin and script tokens.

They work on the console's database from the same ``COURTYARD_*`` settings as ``courtyard
cloud serve`` (migrated first, so they work before the console ever started). A token's secret
is printed once and never stored; passwords come from a prompt or ``--password-stdin``, never
from the command line (it would stay in the shell history and the process list).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # the console's libraries load only when a command of theirs runs
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")


def _run(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    from cloud.db.engine import make_engine, migrate, session_factory
    from cloud.log import configure_logging
    from cloud.settings import Settings, ensure_database_dir

    settings = Settings.from_env()
    # stdout carries the token, logs go to stderr
    configure_logging(level="WARNING", json_lines=settings.log_json)

    async def go() -> T:
        ensure_database_dir(settings.database_url)
        await migrate(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _configured_sites() -> list[str]:
    from cloud.settings import Settings

    return list(Settings.from_env().site_credentials)


CLI_ACTOR_NAME = "cli"


def _cli_actor() -> Any:
    from cloud.auth.audit import Actor

    return Actor("system", f"{CLI_ACTOR_NAME}:{getpass.getuser()}"[:100], "admin", None)


# --- tokens -----------------------------------------------------------------------------------


def _token_create(args: argparse.Namespace) -> int:
    from cloud.auth.accounts import TOKEN_FIELDS, AccountError, check_role, site_ids_for
    from cloud.auth.audit import record, snapshot
    from cloud.auth.tokens import create_token

    if args.expires_days is not None and not 1 <= args.expires_days <= 3650:
        print("--expires-days 须为 1–3650 / must be 1–3650", file=sys.stderr)
        return 2

    async def work(sessions: async_sessionmaker[AsyncSession]) -> str:
        now = datetime.now(UTC)
        actor = _cli_actor()
        async with sessions() as session, session.begin():
            role = check_role(args.role)
            site_ids = await site_ids_for(session, args.site, create=_configured_sites())
            row, secret = await create_token(session, name=args.name, role=role,
                                             site_ids=site_ids, created_by=actor.name,
                                             now=now, expires_days=args.expires_days)
            record(session, at=now, actor=actor, action="create", entity="api_token",
                   entity_id=row.id, after=snapshot(row, TOKEN_FIELDS))
        return secret

    try:
        secret = _run(work)
    except AccountError as err:
        print(f"{err.field}: {err.zh} / {err.en}", file=sys.stderr)
        return 2
    print("# 令牌只显示这一次，请妥善保存 / the token is shown this once only; keep it safe",
          file=sys.stderr)
    print(secret)
    return 0


def _token_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from cloud.auth.accounts import slugs_of
    from cloud.auth.tables import ApiToken

    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
        out = []
        async with sessions() as session:
            query = select(ApiToken).order_by(ApiToken.id)
            if not args.all:
                query = query.where(ApiToken.revoked_at.is_(None))
            for t in (await session.scalars(query)).all():
                sites = await slugs_of(session, t.site_ids)
                state = "revoked" if t.revoked_at else (
                    "expired" if t.expires_at and t.expires_at <= datetime.now(UTC) else "active")
                out.append("\t".join([
                    str(t.id), t.name, f"{t.prefix}…", t.role,
                    "*" if sites is None else ",".join(sites), state,
                    t.expires_at.isoformat() if t.expires_at else "-",
                    t.last_used_at.isoformat() if t.last_used_at else "-"]))
        return out

    print("id\tname\tprefix\trole\tsites\tstate\texpires\tlast_used")
    for line in _run(work):
        print(line)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    from cloud.auth.accounts import TOKEN_FIELDS
    from cloud.auth.audit import record, snapshot
    from cloud.auth.tables import ApiToken

    async def work(sessions: async_sessionmaker[AsyncSession]) -> bool:
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            row = await session.get(ApiToken, args.id)
            if row is None:
                return False
            if row.revoked_at is None:
                before = snapshot(row, TOKEN_FIELDS)
                row.revoked_at = now
                record(session, at=now, actor=_cli_actor(), action="revoke",
                       entity="api_token", entity_id=row.id, before=before,
                       after=snapshot(row, TOKEN_FIELDS))
        return True

    if not _run(work):
        print(f"没有这个令牌 / no such token: {args.id}", file=sys.stderr)
        return 1
    print(f"已吊销 / revoked: {args.id}")
    return 0


# --- users ------------------------------------------------------------------------------------


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码 / password: ")
    if getpass.getpass("再输入一次 / again: ") != first:
        print("两次输入不一致 / the passwords differ", file=sys.stderr)
        return None
    return first


def _user_create(args: argparse.Namespace) -> int:
    from cloud.auth.accounts import USER_FIELDS, AccountError, create_user, site_ids_for
    from cloud.auth.audit import record, snapshot

    password = _read_password(args.password_stdin)
    if password is None:
        return 2

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            site_ids = await site_ids_for(session, args.site, create=_configured_sites())
            user = await create_user(session, username=args.username, role=args.role,
                                     password=password, now=now,
                                     display_name=args.display_name, site_ids=site_ids)
            record(session, at=now, actor=_cli_actor(), action="create", entity="staff_user",
                   entity_id=user.id, after=snapshot(user, USER_FIELDS))
            return user.id

    try:
        user_id = _run(work)
    except AccountError as err:
        print(f"{err.field}: {err.zh} / {err.en}", file=sys.stderr)
        return 2
    print(f"已创建账号 / created account {args.username} (id {user_id}, {args.role})")
    return 0


def _user_password(args: argparse.Namespace) -> int:
    """Set a password and unlock the account (an installer's way back in)."""
    from sqlalchemy import select

    from cloud.auth.audit import record
    from cloud.auth.passwords import hash_password, password_problem
    from cloud.auth.sessions import close_user_sessions
    from cloud.auth.tables import StaffUser

    password = _read_password(args.password_stdin)
    if password is None:
        return 2
    problem = password_problem(password)
    if problem is not None:
        print(f"password: {problem[0]} / {problem[1]}", file=sys.stderr)
        return 2

    async def work(sessions: async_sessionmaker[AsyncSession]) -> bool:
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            user = (await session.scalars(select(StaffUser).where(
                StaffUser.username == args.username))).one_or_none()
            if user is None:
                return False
            user.password_hash = hash_password(password)
            user.password_changed_at = now
            user.updated_at = now
            user.locked_until = None
            user.failed_logins = 0
            await close_user_sessions(session, user.id)
            record(session, at=now, actor=_cli_actor(), action="update", entity="staff_user",
                   entity_id=user.id, detail={"password_reset": True})
        return True

    if not _run(work):
        print(f"没有这个账号 / no such account: {args.username}", file=sys.stderr)
        return 1
    print(f"已设置密码并解锁 / password set and account unlocked: {args.username}")
    return 0


def add_auth_commands(sub: Any, cloud: argparse._SubParsersAction[Any]) -> None:
    """Add this module's commands: sub is the top level, cloud is ``courtyard cloud``."""
    from cloud.auth.roles import ROLES

    token = cloud.add_parser("token", help="API 令牌 / API tokens for scripts").add_subparsers(
        dest="token_cmd", required=True)
    tc = token.add_parser("create", help="新建令牌（只显示一次）/ create a token (shown once)")
    tc.add_argument("--name", required=True, help="用途 / what it is for")
    tc.add_argument("--role", required=True, choices=list(ROLES))
    tc.add_argument("--site", action="append", metavar="SLUG",
                    help="服务的站点（可重复；不填为全部站点）/ site served (repeatable; none: "
                         "every site)")
    tc.add_argument("--expires-days", type=int, help="有效天数 / days until it expires")
    tc.set_defaults(func=_token_create)
    tl = token.add_parser("list", help="列出令牌 / list tokens")
    tl.add_argument("--all", action="store_true", help="含已吊销 / include revoked")
    tl.set_defaults(func=_token_list)
    tr = token.add_parser("revoke", help="吊销令牌 / revoke a token")
    tr.add_argument("id", type=int)
    tr.set_defaults(func=_token_revoke)

    user = cloud.add_parser("user", help="员工账号 / staff accounts").add_subparsers(
        dest="user_cmd", required=True)
    uc = user.add_parser("create", help="新建账号（如第一个管理员）/ create an account, e.g. "
                                        "the first admin")
    uc.add_argument("--username", required=True)
    uc.add_argument("--role", required=True, choices=list(ROLES))
    uc.add_argument("--display-name")
    uc.add_argument("--site", action="append", metavar="SLUG",
                    help="服务的站点（可重复；不填为全部站点）/ site served (repeatable; none: "
                         "every site)")
    uc.add_argument("--password-stdin", action="store_true",
                    help="从标准输入读取密码 / read the password from stdin")
    uc.set_defaults(func=_user_create)
    up = user.add_parser("set-password", help="设置密码并解锁 / set a password and unlock")
    up.add_argument("--username", required=True)
    up.add_argument("--password-stdin", action="store_true")
    up.set_defaults(func=_user_password)
