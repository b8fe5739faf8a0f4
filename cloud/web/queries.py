"""Lookups shared by the handlers (site by slug, device by key)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.models import Device, Site
from cloud.web.errors import ApiError, not_found


async def site_by_slug(session: AsyncSession, slug: str) -> Site:
    site = (await session.execute(select(Site).where(Site.slug == slug))).scalar_one_or_none()
    if site is None:
        raise not_found("site", "小区", "site", slug)
    return site


async def device_by_key(session: AsyncSession, key: str,
                        site_slug: str | None) -> tuple[Device, Site]:
    """The device with this key; ``site_slug`` picks one when several sites use the key.

    Device keys come from each site's YAML, so two communities may both have ``meter-1``;
    guessing would show one community another's readings, hence 409 rather than a pick.
    """
    query = select(Device, Site).join(Site, Site.id == Device.site_id).where(Device.key == key)
    if site_slug is not None:
        await site_by_slug(session, site_slug)
        query = query.where(Site.slug == site_slug)
    rows = (await session.execute(query.order_by(Site.slug))).all()
    if not rows:
        raise not_found("device", "设备", "device", key)
    if len(rows) > 1:
        sites = [r[1].slug for r in rows]
        raise ApiError(
            409, "ambiguous_device",
            f"多个小区都有设备 {key}（{', '.join(sites)}），请用 ?site= 指定小区",
            f"device {key} exists in several sites ({', '.join(sites)}); add ?site= to choose",
            field="site", sites=sites)
    return rows[0][0], rows[0][1]
