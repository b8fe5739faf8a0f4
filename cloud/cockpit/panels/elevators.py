"""Panel ``elevators`` (电梯): each car's state, live.

A car's state is the newest elevator event's (``cockpit_elevators``, kept at ingest: running,
fault, trapped, maintenance, offline). A car the console knows only as a device (kind
``elevator``, no state event yet) is ``unknown`` while online. A car whose device the console
holds offline (``device.offline``, or the edge's Last Will) is ``offline`` whatever its last
event said, since when it went offline: the wall must not show a lift running that nobody can
see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from cloud.cockpit.panels.registry import PanelContext, panel
from cloud.cockpit.rollups import elevator_cars
from cloud.db.models import Device
from cloud.web.present import utc_iso


def _car(device: str, building: str, state: str, since: datetime | None,
         floor: int | None) -> dict[str, Any]:
    return {"device": device, "building": building, "state": state, "since": utc_iso(since),
            "floor": floor}


@panel("elevators", "电梯", "Elevators", 80, kinds=("elevator.", "device."))
async def elevators(ctx: PanelContext) -> dict[str, Any]:
    devices = {key: (online, changed) for key, online, changed in await ctx.session.execute(
        select(Device.key, Device.online, Device.status_changed_at)
        .where(Device.site_id == ctx.site_id, Device.kind == "elevator"))}
    cars: list[dict[str, Any]] = []
    seen: set[str] = set()
    for car in await elevator_cars(ctx.session, ctx.site_id):
        seen.add(car.device)
        online, changed = devices.get(car.device, (True, None))
        if online:
            cars.append(_car(car.device, car.building, car.state, car.since, car.floor))
        else:
            cars.append(_car(car.device, car.building, "offline", changed or car.since,
                             car.floor))
    for key in sorted(set(devices) - seen):
        online, changed = devices[key]
        cars.append(_car(key, "", "unknown" if online else "offline", changed, None))
    return {"empty": not cars, "cars": cars}
