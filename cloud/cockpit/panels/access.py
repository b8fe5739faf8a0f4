"""门禁 / Access: door events per hour today, doors forced and held open today, the latest
forced / held doors.

The counts are the hourly rollups (``door_events``, ``door_forced``, ``door_held``, subject
``site``) by the site's local hours. The latest five come from the stored events themselves
(``door.forced`` / ``door.held_open``, newest device time first): the ``(site_id, kind, seq)``
index reaches just those two kinds, never the swipes. (Not by ``seq``: an edge whose outbox
was rebuilt starts a new epoch, and its seq starts again.)
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import select

from cloud.cockpit import rollups as ru
from cloud.cockpit.panels.registry import PanelContext, panel
from cloud.db.models import Event
from cloud.web.present import utc_iso
from contract.kinds import Kind

#: The door kinds the panel lists, with the short name it shows for each.
LISTED: Final[dict[str, str]] = {str(Kind.DOOR_FORCED): "forced",
                                 str(Kind.DOOR_HELD_OPEN): "held"}
LATEST: Final = 5


async def _latest(ctx: PanelContext) -> list[dict[str, Any]]:
    rows = await ctx.session.execute(
        select(Event.kind, Event.device, Event.data, Event.ts)
        .where(Event.site_id == ctx.site_id, Event.kind.in_(list(LISTED)))
        .order_by(Event.ts.desc(), Event.id.desc()).limit(LATEST))
    out = []
    for kind, device, data, ts in rows:
        door = data.get("door") if isinstance(data, dict) else None
        out.append({"door": str(door) if door else device, "kind": LISTED[kind],
                    "ts": utc_iso(ts)})
    return out


@panel("access", "门禁", "Access", 50, kinds=("access.", "door."))
async def access_panel(ctx: PanelContext) -> dict[str, Any]:
    hourly = [int(v) for v in await ru.hourly_today(ctx.session, ctx.site_id, ru.DOOR_EVENTS,
                                                    ctx.tz, ctx.now)]
    start, end = ctx.day_bounds(ctx.today)
    forced = int(await ru.total(ctx.session, ctx.site_id, ru.DOOR_FORCED, start, end))
    held = int(await ru.total(ctx.session, ctx.site_id, ru.DOOR_HELD, start, end))
    latest = await _latest(ctx)
    return {"empty": not any(hourly) and not forced and not held and not latest,
            "hourly_today": hourly, "forced_today": forced, "held_today": held,
            "latest": latest}
