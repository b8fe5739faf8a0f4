"""Site scoping for handlers: an actor sees only the sites it serves.

Lists filter by ``scoped(query, Model.site_id, request)``; a single record of another site is
a 404 (``ensure_visible``), the same answer as a record that does not exist, so ids of other
communities' records reveal nothing. ``{site}`` path parameters and ``?site=`` filters are
checked by the request guard before the handler runs.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import actor_of
from cloud.db.models import Site
from cloud.web.errors import ApiError, not_found

Q = TypeVar("Q")


def allowed_sites(request: web.Request) -> frozenset[int] | None:
    """The site ids the request's actor may see; None for every site."""
    return actor_of(request).sites


def scoped(query: Q, column: Any, request: web.Request) -> Q:
    """``query`` limited to the actor's sites (unchanged for all-site actors)."""
    sites = allowed_sites(request)
    if sites is None:
        return query
    return query.where(column.in_(sorted(sites)))  # type: ignore[attr-defined, no-any-return]


def ensure_visible(request: web.Request, site_id: int | None, field: str, what_zh: str,
                   what_en: str, value: object) -> None:
    """404 (as for a missing record) when the record's site is not the actor's."""
    if not actor_of(request).may_see(site_id):
        raise not_found(field, what_zh, what_en, str(value)[:40])


async def visible_slugs(session: AsyncSession, request: web.Request) -> set[str] | None:
    sites = allowed_sites(request)
    if sites is None:
        return None
    if not sites:
        return set()
    return set((await session.scalars(select(Site.slug).where(Site.id.in_(sorted(sites))))).all())


async def check_site_slug(session: AsyncSession, request: web.Request, slug: str,
                          field: str = "site") -> None:
    """404 for a site slug the actor does not serve (or that does not exist, for them)."""
    sites = allowed_sites(request)
    if sites is None:
        return
    site_id = (await session.scalars(select(Site.id).where(Site.slug == slug))).one_or_none()
    if site_id is None or site_id not in sites:
        raise ApiError(404, "not_found", f"小区不存在：{slug[:63]}", f"no such site: {slug[:63]}",
                       field=field)
