"""What happens to a bill once it is issued, decided outside billing.

A new or released bill may be paid at once from the unit's prepaid balance; balances belong to
the payments feature, which builds on billing. So billing only calls a ``Settle`` it is given
(``cloud.payments.balances.apply_prepaid`` in the console, the CLI and the tests that need it)
inside the same transaction, and never imports payments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor


class Settle(Protocol):
    async def __call__(self, session: AsyncSession, *, site_id: int, now: datetime,
                       actor: Actor, bill_ids: Sequence[int] | None = None) -> int:
        """Settle the open bills ``bill_ids`` of the site; returns how many it touched."""
        ...


#: Set by the payments feature's ``setup``; without it issued bills stay open.
SETTLE: web.AppKey[Settle] = web.AppKey("billing_settle")
