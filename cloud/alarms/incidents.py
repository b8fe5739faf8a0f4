"""Incidents: the alarms a guard deals with as one thing, decided here so the API and the board
agree.

A fire on one panel opens several alarms (the detector, the manual call point, the panel's
system-level and UITD-level "fire" reports, each folding its repeats); the guard has one fire
to handle, not four. Alarms belong to one incident when they come from the same site, the
same device (the fire panel's UITD, an elevator, a gate) and are of the same kind, and each
began within ``WINDOW`` of the latest event of the ones before it (a chain: a fire that keeps
spreading stays one incident). The incident's id is the id of its first alarm (by first event
time, then id), so it is stable while the incident lasts and needs no stored column: every
alarm JSON carries it as ``incident``.

What the edge did about the fire (``linkage.*``) is attached to the alarm of the event that
caused it (``AlarmLinkage``), so it shows inside the incident too, never as a card of its own.
Chains are looked up no further back than ``LOOKBACK`` before an alarm.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.alarms.tables import Alarm

#: A later alarm of the same source and kind joins the incident when its first event came
#: within this long after the latest event of the incident so far.
WINDOW = timedelta(minutes=30)
#: How far back an incident's first alarm is looked for.
LOOKBACK = timedelta(hours=12)
#: Alarms of one source read to find an incident's members (a device that has failed daily
#: for years must not make one click read them all).
MEMBERS_SCAN = 2000

Group = tuple[int, str, str]  # (site_id, kind, device)


def _group(a: Alarm) -> Group:
    return (a.site_id, a.kind, a.device)


def chain(alarms: Iterable[Alarm]) -> dict[int, int]:
    """Alarm id → incident id for alarms of one group (any order in)."""
    out: dict[int, int] = {}
    root: Alarm | None = None
    latest = None
    for a in sorted(alarms, key=lambda x: (x.first_ts, x.id)):
        if root is None or latest is None or a.first_ts > latest + WINDOW:
            root, latest = a, a.last_ts
        else:
            latest = max(latest, a.last_ts)
        out[a.id] = root.id
    return out


async def incident_ids(session: AsyncSession, alarms: Sequence[Alarm]) -> dict[int, int]:
    """The incident of each alarm given (its id → the incident's id)."""
    if not alarms:
        return {}
    groups = {_group(a) for a in alarms}
    earliest = min(a.first_ts for a in alarms) - LOOKBACK
    latest = max(a.first_ts for a in alarms)
    rows = (await session.scalars(select(Alarm).where(
        tuple_(Alarm.site_id, Alarm.kind, Alarm.device).in_(sorted(groups)),
        Alarm.first_ts >= earliest, Alarm.first_ts <= latest))).all()
    by_group: dict[Group, dict[int, Alarm]] = defaultdict(dict)
    for a in [*rows, *alarms]:
        by_group[_group(a)][a.id] = a
    out: dict[int, int] = {}
    for members in by_group.values():
        out |= chain(members.values())
    return {a.id: out.get(a.id, a.id) for a in alarms}


async def members(session: AsyncSession, incident: int) -> list[Alarm]:
    """The alarms of incident ``incident`` (oldest first); empty when no alarm has that id
    or that alarm is not the first of its incident."""
    root = await session.get(Alarm, incident)
    if root is None:
        return []
    rows = (await session.scalars(select(Alarm).where(
        Alarm.site_id == root.site_id, Alarm.kind == root.kind, Alarm.device == root.device,
        Alarm.first_ts >= root.first_ts - LOOKBACK)
        .order_by(Alarm.first_ts, Alarm.id).limit(MEMBERS_SCAN))).all()
    roots = chain(rows)
    return sorted((a for a in rows if roots.get(a.id) == incident),
                  key=lambda x: (x.first_ts, x.id))
