"""Does the device a billing meter names send the register it reads?

``kinds.check_register`` knows only the names some profile may produce. Once the device has
reported, the console knows what it does send (``meters.last_values``: every name its readings
carried, merged), so a register that device never sends is refused where the billing meter
is configured — not discovered at the bill run as a ``no_reading`` hold.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.models import Device, Meter
from cloud.parking.records import RecordError


async def check_device_register(session: AsyncSession, site_id: int | None,
                                device_key: str | None, register: str | None) -> None:
    """Refuse ``register`` when the site's device ``device_key`` has reported without it."""
    if site_id is None or not device_key or not register:
        return
    row = (await session.execute(
        select(Device.profile, Meter.last_values).join(Meter, Meter.device_id == Device.id)
        .where(Device.site_id == site_id, Device.key == device_key))).first()
    if row is None or not row.last_values or register in row.last_values:
        return
    sends = ", ".join(sorted(row.last_values))
    profile = row.profile or "?"
    raise RecordError("register",
                      f"设备 {device_key}（型号 {profile}）不产生 “{register}”；它发送：{sends}",
                      f'device {device_key} (profile {profile}) does not produce "{register}"; '
                      f"it sends {sends}")
