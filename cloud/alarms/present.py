"""Alarms as JSON: the same shape in the API and on the live feed.

Times are UTC (``…Z``) with the site's wall-clock time beside each as ``<name>_local``, the
way the rest of the console renders them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.alarms.incidents import incident_ids
from cloud.alarms.tables import Alarm, AlarmAction, AlarmLinkage
from cloud.db.models import Site

DEFAULT_TZ = "Asia/Shanghai"

ALARM_TIMES = ("first_ts", "last_ts", "opened_at", "acknowledged_at", "resolved_at",
               "restored_at")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def _utc(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _times(name: str, ts: datetime | None, tz: ZoneInfo) -> dict[str, str | None]:
    local = ts.astimezone(tz).isoformat(timespec="milliseconds") if ts is not None else None
    return {name: _utc(ts), f"{name}_local": local}


def alarm_json(alarm: Alarm, site: str, timezone: str | None,
               incident: int | None = None) -> dict[str, Any]:
    """``incident``: the id of the alarm's incident (``cloud.alarms.incidents``)."""
    tz = _zone(timezone or DEFAULT_TZ)
    out: dict[str, Any] = {
        "id": alarm.id,
        "incident": incident if incident is not None else alarm.id,
        "site": site,
        "kind": alarm.kind,
        "severity": alarm.severity,
        "state": alarm.state,
        "title": {"zh": alarm.title_zh, "en": alarm.title_en},
        "location": alarm.location,
        "location_text": alarm.location_text,
        "device": alarm.device,
        "count": alarm.count,
    }
    for name in ALARM_TIMES:
        out |= _times(name, getattr(alarm, name), tz)
    out |= {
        "acknowledged_by": alarm.acknowledged_by,
        "resolved_by": alarm.resolved_by,
        "note": alarm.note,
        "escalated": bool(alarm.escalated),
        "escalation_level": alarm.escalation_level,
        "event_uuid": alarm.event_uuid,
        "evidence": alarm.evidence or {},
    }
    return out


def action_json(a: AlarmAction, timezone: str | None) -> dict[str, Any]:
    tz = _zone(timezone or DEFAULT_TZ)
    return {"action": a.action, "from": a.from_state, "to": a.to_state, "by": a.by,
            **_times("at", a.at, tz), "note": a.note, "role": a.role, "level": a.level}


def linkage_json(row: AlarmLinkage, timezone: str | None) -> dict[str, Any]:
    tz = _zone(timezone or DEFAULT_TZ)
    return {"kind": row.kind, "device": row.device, **_times("ts", row.ts, tz),
            "action": row.action, "target": row.target, "result": row.result,
            "detail": row.detail, "cause_event": row.cause_uuid, "seq": row.seq}


def with_site() -> Select[Alarm, str, str]:
    """Alarms with their site's slug and time zone (what ``alarm_json`` needs)."""
    return select(Alarm, Site.slug, Site.timezone).join(Site, Site.id == Alarm.site_id)


async def load_alarms(session: AsyncSession, ids: Iterable[int]) -> list[dict[str, Any]]:
    """The alarms with these ids as JSON, in id order (missing ids are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = (await session.execute(with_site().where(Alarm.id.in_(wanted))
                                  .order_by(Alarm.id))).all()
    return await rows_json(session, rows)


async def rows_json(session: AsyncSession,
                    rows: Sequence[Any]) -> list[dict[str, Any]]:
    """``with_site()`` rows as alarm JSON, each with its incident."""
    incidents = await incident_ids(session, [a for a, _, _ in rows])
    return [alarm_json(a, slug, tz, incidents.get(a.id)) for a, slug, tz in rows]


async def history(session: AsyncSession, alarm_id: int,
                  timezone: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(history, linkage) of one alarm, each oldest first."""
    actions: Sequence[AlarmAction] = (await session.scalars(
        select(AlarmAction).where(AlarmAction.alarm_id == alarm_id)
        .order_by(AlarmAction.at, AlarmAction.id))).all()
    links: Sequence[AlarmLinkage] = (await session.scalars(
        select(AlarmLinkage).where(AlarmLinkage.alarm_id == alarm_id)
        .order_by(AlarmLinkage.seq, AlarmLinkage.id))).all()
    return ([action_json(a, timezone) for a in actions],
            [linkage_json(r, timezone) for r in links])
