"""API tokens and session ids: random secrets, stored as SHA-256 only.

A token reads ``cy_`` + 43 URL-safe characters, so a leaked one is easy to recognise in logs
and secret scanners; the database keeps its hash and its first characters for listing.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor
from cloud.auth.tables import ApiToken

TOKEN_PREFIX = "cy_"
PREFIX_SHOWN = 10


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_token(session: AsyncSession, *, name: str, role: str,
                       site_ids: Iterable[int] | None, created_by: str, now: datetime,
                       expires_days: int | None = None) -> tuple[ApiToken, str]:
    """Add a token to the session; returns the row and the secret (shown once, never again)."""
    secret = new_token_secret()
    row = ApiToken(name=name, token_hash=digest(secret), prefix=secret[:PREFIX_SHOWN], role=role,
                   site_ids=None if site_ids is None else sorted(set(site_ids)),
                   created_by=created_by[:100], created_at=now,
                   expires_at=None if expires_days is None else now + timedelta(days=expires_days))
    session.add(row)
    await session.flush()
    return row, secret


async def token_by_secret(session: AsyncSession, secret: str) -> ApiToken | None:
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    return (await session.scalars(select(ApiToken).where(
        ApiToken.token_hash == digest(secret)))).one_or_none()


def token_usable(row: ApiToken, now: datetime) -> bool:
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)


@dataclass(slots=True)
class _Verified:
    token_id: int
    actor: Actor
    expires_at: datetime | None
    until: float


class VerifiedTokens:
    """Tokens verified in the last ``ttl`` seconds, by hash: a script calling the API hundreds
    of times a second costs one lookup every few seconds instead of one per call.

    Revoking through this console forgets the token at once; a revocation made elsewhere (the
    CLI, another console process) takes effect within ``ttl``. Expiry is checked on every
    use against the request's clock.
    """

    def __init__(self, ttl: float = 5.0, size: int = 4096) -> None:
        self.ttl, self.size = ttl, size
        self._rows: dict[str, _Verified] = {}

    def get(self, token_hash: str, now: datetime) -> Actor | None:
        hit = self._rows.get(token_hash)
        if hit is None:
            return None
        if hit.until < time.monotonic() or (hit.expires_at is not None and hit.expires_at <= now):
            del self._rows[token_hash]
            return None
        return hit.actor

    def put(self, token_hash: str, row: ApiToken, actor: Actor) -> None:
        if len(self._rows) >= self.size:
            self._rows.clear()
        self._rows[token_hash] = _Verified(row.id, actor, row.expires_at,
                                           time.monotonic() + self.ttl)

    def forget(self, token_id: int) -> None:
        for key in [k for k, v in self._rows.items() if v.token_id == token_id]:
            del self._rows[key]


#: The console process's verified tokens (keyed by hash, so apps never see each other's).
VERIFIED = VerifiedTokens()
