"""Browser sessions: a random id in an HttpOnly cookie, its SHA-256 in ``staff_sessions``.

The CSRF token is derived from the session id (its own hash, different from the stored one),
so it needs no storage, changes with every login, and a database copy does not reveal it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.config import AuthConfig
from cloud.auth.tables import StaffSession, StaffUser
from cloud.auth.tokens import digest


def csrf_for(session_id: str) -> str:
    return hashlib.sha256(f"csrf:{session_id}".encode()).hexdigest()


async def open_session(session: AsyncSession, user: StaffUser, now: datetime,
                       config: AuthConfig, remote: str | None) -> str:
    """Add a session for ``user``; returns the id for the cookie."""
    sid = secrets.token_urlsafe(32)
    session.add(StaffSession(id_hash=digest(sid), user_id=user.id, created_at=now,
                             last_seen_at=now, expires_at=now + config.absolute,
                             remote=(remote or "")[:64] or None))
    await session.flush()
    return sid


async def session_user(session: AsyncSession, sid: str, now: datetime,
                       config: AuthConfig) -> tuple[StaffSession, StaffUser] | None:
    """The live session and its active user, or None (unknown, idle, expired, disabled)."""
    if not sid or len(sid) > 200:
        return None
    row = (await session.execute(select(StaffSession, StaffUser).join(
        StaffUser, StaffUser.id == StaffSession.user_id).where(
        StaffSession.id_hash == digest(sid)))).first()
    if row is None:
        return None
    found, user = row
    if (found.expires_at <= now or found.last_seen_at + config.idle <= now
            or not user.active):
        return None
    return found, user


async def close_session(session: AsyncSession, sid: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.id_hash == digest(sid)))


async def close_user_sessions(session: AsyncSession, user_id: int) -> None:
    """Log a user out everywhere (password reset, deactivation, role change)."""
    await session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
