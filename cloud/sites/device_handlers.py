"""Device state from ``device.online`` / ``device.offline``, and ``buffer.dropped`` notices.

Events can arrive out of order (replay after an outage, alarms first), so a status change only
applies when it is newer, by device time, than the one that set the current state.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from cloud.db.models import Device
from cloud.ingest.handlers import HandlerContext, StoredEvent
from contract import Kind


async def on_device_status(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    ids = {e.device_id for e in events}
    devices = {d.id: d for d in (await ctx.session.scalars(
        select(Device).where(Device.id.in_(ids)))).all()}
    for ev in sorted(events, key=lambda e: (e.ts, e.seq)):
        dev = devices.get(ev.device_id)
        if dev is None:
            continue
        if dev.status_changed_at is not None and ev.ts < dev.status_changed_at:
            ctx.count("device_status_stale")
            continue
        online = ev.kind == Kind.DEVICE_ONLINE
        reason = ev.data.get("reason") if not online else None
        dev.online = online
        dev.offline_reason = str(reason)[:64] if reason is not None else None
        dev.status_changed_at = ev.ts
        if online and (dev.last_seen_at is None or ev.ts > dev.last_seen_at):
            dev.last_seen_at = ev.ts
        ctx.count("device_status_changes")
        ctx.log.info("device.status", device=ev.device, online=online, reason=reason,
                     seq=ev.seq)


async def on_buffer_dropped(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    """The edge hit its disk budget and dropped telemetry: worth a warning, not an alarm."""
    for ev in events:
        ctx.count("buffer_dropped_notices")
        ctx.log.warning("edge.buffer_dropped", device=ev.device, seq=ev.seq,
                        count=ev.data.get("count"), detail=ev.data)
