"""The sites a maintenance command works on: the one ``--site`` names, or every site."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import Site


async def sites_named(sessions: async_sessionmaker[AsyncSession], slug: str | None) -> list[Site]:
    """Every site by slug when ``slug`` is None, else that one; ``LookupError`` when it does not
    exist. The rows are detached, so callers use them across their own transactions."""
    async with sessions() as session:
        q = select(Site).order_by(Site.slug)
        if slug is not None:
            q = q.where(Site.slug == slug)
        sites = list((await session.scalars(q)).all())
        session.expunge_all()
    if slug is not None and not sites:
        raise LookupError(slug)
    return sites
