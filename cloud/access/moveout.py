"""A resident moving out loses their cards (issue 13): registered on the records feature's
``MOVE_OUT`` hook, so it runs in the same transaction as the record's change.

A move-out dated today or earlier (site time) revokes the resident's active cards; one
dated later ends their validity at the end of that day, so the doors stop opening on
their own when the day comes. Either way the site's ``access`` version is bumped (and
announced after the commit by the records route) only when a card changed.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access.tables import ACCESS_DATASET, AccessCard
from cloud.auth.audit import Actor, record, snapshot
from cloud.db.models import Site
from cloud.parking.dataset import bump_version
from cloud.records.tables import Resident
from cloud.web.present import zone

REASON = "住户迁出 / resident moved out"
AUDITED = ("number", "holder", "doors", "valid_to", "state", "revoked_reason")


async def on_move_out(session: AsyncSession, resident: Resident, now: datetime,
                      actor: Actor) -> list[tuple[str, int]]:
    cards = (await session.scalars(select(AccessCard).where(
        AccessCard.site_id == resident.site_id, AccessCard.resident_id == resident.id,
        AccessCard.state == "active"))).all()
    if not cards or resident.move_out is None:
        return []
    site = await session.get(Site, resident.site_id)
    tz = zone(site.timezone if site is not None and site.timezone else "")
    end = datetime.combine(resident.move_out + timedelta(days=1), time.min, tz)
    gone = resident.move_out <= now.astimezone(tz).date()
    changing = [c for c in cards if gone or c.valid_to is None or c.valid_to > end]
    if not changing:
        return []
    version = await bump_version(session, resident.site_id, now, ACCESS_DATASET)
    for card in changing:
        before = snapshot(card, AUDITED)
        if gone:
            card.state, card.revoked_reason, card.revoked_at = "revoked", REASON, now
        else:
            card.valid_to = end
        record(session, at=now, actor=actor, action="revoke" if gone else "update",
               entity="access_card", entity_id=card.id, site_id=resident.site_id,
               before=before, after=snapshot(card, AUDITED), detail={"cause": "move_out"})
    return [(ACCESS_DATASET, version)]
