"""Panel ``devices`` (设备在线): devices online per family and the edge's buffer.

Families come from the console's own device list (``devices``: the kind learnt from each
device's events, ``cloud.sites.device_family``), one entry per family the site has; patrol
receivers from the edge's latest health report (the console has no row per receiver). The
edge: online (its retained status), when it last reported its health, the outbox depth and the
oldest buffered event's age, and ``stale`` when that report no longer vouches for the present
(older than 60 s, the site offline, or never sent).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import func, select

from cloud.cockpit.panels.registry import PanelContext, panel
from cloud.db.models import Device, Site
from cloud.sites.device_family import family_of
from cloud.sites.edge_health import latest_health
from cloud.web.present import utc_iso

#: The wall's families in its order, with short labels readable at 5 m.
FAMILIES: Final[dict[str, tuple[str, str]]] = {
    "meter": ("表计", "Meters"),
    "camera": ("车牌相机", "Cameras"),
    "gate": ("道闸", "Gates"),
    "access": ("门禁", "Access"),
    "elevator": ("电梯", "Elevators"),
    "fire": ("消防主机", "Fire panels"),
    "patrol_receiver": ("巡更基站", "Patrol receivers"),
}


#: Only ``device.online``/``offline`` change a device's state; a new device's first event and
#: the edge's health reports (every 15 s) reach the wall on the live feed's periodic sweep, so
#: the stream of readings does not recompute this panel.
@panel("devices", "设备在线", "Devices online", 10, kinds=("device.",))
async def devices(ctx: PanelContext) -> dict[str, Any]:
    counts: dict[str, list[int]] = {}
    rows = await ctx.session.execute(
        select(Device.kind, Device.online, func.count()).where(Device.site_id == ctx.site_id)
        .group_by(Device.kind, Device.online))
    for kind, online, n in rows:
        fam = family_of(kind)
        if fam not in FAMILIES:
            continue  # a device whose kind is not learnt yet belongs to no family
        c = counts.setdefault(fam, [0, 0])
        c[0] += int(n) if online else 0
        c[1] += int(n)
    health = await latest_health(ctx.session, ctx.site_id, ctx.now)
    if health is not None and health.patrol_receivers and health.patrol_receivers["total"]:
        counts["patrol_receiver"] = [health.patrol_receivers["heard"],
                                     health.patrol_receivers["total"]]
    families = [{"family": f, "label_zh": zh, "label_en": en, "online": counts[f][0],
                 "total": counts[f][1]} for f, (zh, en) in FAMILIES.items() if f in counts]
    online = bool((await ctx.session.scalar(select(Site.online).where(
        Site.id == ctx.site_id))) or False)
    edge = {"online": online,
            "reported_at": utc_iso(health.reported_at) if health else None,
            "outbox_depth": health.outbox_depth if health else None,
            "oldest_age_s": (None if health is None or health.oldest_age_s is None
                             else round(health.oldest_age_s, 1)),
            "stale": True if health is None else health.stale}
    return {"empty": not families and health is None, "families": families, "edge": edge}
