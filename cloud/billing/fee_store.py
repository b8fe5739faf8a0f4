"""Fee items in the database: create or update one by (site, code), audited. Used by the fee
item API and the sample-community loader."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, record, snapshot
from cloud.billing.fee_items import FeeItemInput
from cloud.billing.tables import FeeItem
from cloud.db.models import Site

#: The fee item's fields an audit row records (and the API may change, less ``code``).
FEE_FIELDS = ("code", "name", "kind", "cycle", "rule", "late_fee", "due_days", "active")


async def save_fee_item(session: AsyncSession, site: Site, data: FeeItemInput, actor: Actor,
                        now: datetime) -> tuple[FeeItem, bool]:
    """Create the item of (site, code) or update it; audited; (row, created)."""
    row = (await session.execute(select(FeeItem).where(
        FeeItem.site_id == site.id, FeeItem.code == data.code))).scalar_one_or_none()
    values = {k: getattr(data, k) for k in FEE_FIELDS}
    if row is None:
        row = FeeItem(site_id=site.id, created_at=now, updated_at=now, **values)
        session.add(row)
        await session.flush()
        record(session, at=now, actor=actor, action="create", entity="fee_item",
               entity_id=row.id, site_id=site.id, after=snapshot(row, FEE_FIELDS))
        return row, True
    before = snapshot(row, FEE_FIELDS)
    for k, v in values.items():
        setattr(row, k, v)
    row.updated_at = now
    record(session, at=now, actor=actor, action="update", entity="fee_item", entity_id=row.id,
           site_id=site.id, before=before, after=snapshot(row, FEE_FIELDS))
    return row, False
