"""Staff accounts and tokens as actors; site slugs ↔ ids for the sites they serve."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor
from cloud.auth.passwords import hash_password, password_problem
from cloud.auth.roles import ROLES
from cloud.auth.tables import ApiToken, StaffUser
from cloud.db.models import Site
from contract.topics import SITE_RE

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")


class AccountError(ValueError):
    """A refused account or token change: which field and why (zh, en)."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.field = field
        self.zh = zh
        self.en = en


def user_actor(user: StaffUser) -> Actor:
    return Actor(f"user:{user.id}", user.display_name or user.username, user.role,
                 None if user.site_ids is None else frozenset(user.site_ids))


def token_actor(token: ApiToken) -> Actor:
    return Actor(f"token:{token.id}", f"token:{token.name}"[:64], token.role,
                 None if token.site_ids is None else frozenset(token.site_ids))


def check_role(role: object, field: str = "role") -> str:
    if not isinstance(role, str) or role not in ROLES:
        raise AccountError(field, f"角色须为 {', '.join(ROLES)}",
                           f"role must be one of {', '.join(ROLES)}")
    return role


def check_username(username: object) -> str:
    if not isinstance(username, str) or not USERNAME_RE.match(username):
        raise AccountError("username", "用户名须为 2–64 个字母、数字或 . _ @ -",
                           "username must be 2–64 letters, digits or . _ @ -")
    return username


async def site_ids_for(session: AsyncSession, slugs: Iterable[str] | None, *,
                       create: Iterable[str] = (), field: str = "sites") -> list[int] | None:
    """Ids of the sites named by slug (None stays None: every site).

    A slug in ``create`` (configured sites no edge has reported from yet) gets its row made;
    any other unknown slug is refused, naming it.
    """
    if slugs is None:
        return None
    creatable = set(create)
    ids: list[int] = []
    for slug in slugs:
        if not isinstance(slug, str) or not SITE_RE.match(slug):
            raise AccountError(field, f"小区标识无效：{str(slug)[:40]!r}",
                               f"invalid site slug: {str(slug)[:40]!r}")
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
        if site is None and slug in creatable:
            site = Site(slug=slug, name=slug)
            session.add(site)
            await session.flush()
        if site is None:
            raise AccountError(field, f"小区不存在：{slug}", f"no such site: {slug}")
        ids.append(site.id)
    return sorted(set(ids))


async def slugs_of(session: AsyncSession, site_ids: list[int] | None) -> list[str] | None:
    if site_ids is None:
        return None
    if not site_ids:
        return []
    rows = await session.scalars(select(Site.slug).where(Site.id.in_(site_ids)))
    return sorted(rows.all())


async def site_names(session: AsyncSession,
                     site_ids: Collection[int] | None) -> dict[str, str]:
    """``{slug: name}`` of the sites the principal serves (every site: None), so pages offer
    小区 by name; staff never need to know a slug."""
    query = select(Site.slug, Site.name).order_by(Site.name)
    if site_ids is not None:
        query = query.where(Site.id.in_(sorted(site_ids)))
    return {slug: name or slug for slug, name in (await session.execute(query)).all()}


async def site_list(session: AsyncSession, site_ids: Collection[int] | None,
                    default_tz: str) -> list[dict[str, str]]:
    """``[{slug, name, timezone}]`` of the sites the principal serves, by name: the shell's
    小区 switcher, and the zone each page shows that site's times in."""
    query = select(Site.slug, Site.name, Site.timezone).order_by(Site.name)
    if site_ids is not None:
        query = query.where(Site.id.in_(sorted(site_ids)))
    return [{"slug": slug, "name": name or slug, "timezone": tz or default_tz}
            for slug, name, tz in (await session.execute(query)).all()]


async def create_user(session: AsyncSession, *, username: str, role: str, password: str,
                      now: datetime, display_name: str | None = None,
                      site_ids: list[int] | None = None, active: bool = True) -> StaffUser:
    """Add an account (validated); AccountError names the refused field."""
    check_username(username)
    check_role(role)
    problem = password_problem(password)
    if problem is not None:
        raise AccountError("password", *problem)
    if display_name is not None and (not isinstance(display_name, str)
                                     or not display_name.strip() or len(display_name) > 64):
        raise AccountError("display_name", "显示名须为 1–64 个字符",
                           "display_name must be 1–64 characters")
    taken = (await session.scalars(select(StaffUser.id).where(
        StaffUser.username == username))).first()
    if taken is not None:
        raise AccountError("username", f"用户名已存在：{username}",
                           f"username already exists: {username}")
    user = StaffUser(username=username, display_name=(display_name or username).strip(),
                     role=role, site_ids=site_ids, active=active,
                     password_hash=hash_password(password), failed_logins=0,
                     password_changed_at=now, created_at=now, updated_at=now)
    session.add(user)
    await session.flush()
    return user


USER_FIELDS = ("username", "display_name", "role", "site_ids", "active", "locked_until")
TOKEN_FIELDS = ("name", "role", "site_ids", "expires_at", "revoked_at")
