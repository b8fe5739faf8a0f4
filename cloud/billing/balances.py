"""Prepaid balances (预存款) applied to bills (being built)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit import Actor


async def apply_prepaid(session: AsyncSession, *, site_id: int, now: datetime, actor: Actor,
                        bill_ids: Sequence[int] | None = None) -> int:
    """Pay open bills of the site (or only ``bill_ids``) from their units' prepaid balances,
    oldest due first, inside the caller's transaction; returns how many bills it touched."""
    del session, site_id, now, actor, bill_ids
    return 0
