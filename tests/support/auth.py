"""Authenticating test clients: a real API token of a given role, scoped to sites.

Until the staff-auth module lands this returns no header (the console does not check yet).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


async def token_headers(sessions: async_sessionmaker[AsyncSession], role: str = "admin",
                        sites: Iterable[str] | None = None) -> dict[str, str]:
    """``Authorization: Bearer …`` for a new token of ``role`` on ``sites`` (slugs; None: all)."""
    del sessions, role, sites
    return {}


async def admin_headers(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    return await token_headers(sessions, "admin")
