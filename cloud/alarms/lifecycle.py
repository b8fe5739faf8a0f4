"""A guard's action on an alarm: check the transition, record who, when and why.

The state change is a conditional UPDATE (``WHERE state = <the state we checked>``): two
guards pressing buttons at once, or an escalation racing an acknowledgement, cannot both
win; the loser re-reads and is refused with the state the winner left. This works the same
on PostgreSQL and SQLite, whose reads here are not locking.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.incidents import incident_ids
from cloud.alarms.notify import announce
from cloud.alarms.policy import LIFECYCLE, TRANSITIONS
from cloud.alarms.present import alarm_json, with_site
from cloud.alarms.tables import Alarm, AlarmAction
from cloud.lifecycle import Transition
from cloud.lifecycle import TransitionRefused as TransitionRefused  # raised by act()

log = structlog.get_logger(__name__)

MAX_BY = 64
MAX_NOTE = 2000
RACE_RETRIES = 3


class AlarmNotFound(LookupError):
    pass


def _values(t: Transition, alarm: Alarm, by: str, note: str | None,
            now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"state": t.after(alarm.state), "updated_at": now}
    if alarm.acknowledged_at is None:
        # Skipping "acknowledge" still answers the alarm: whoever acted first took it.
        values |= {"acknowledged_at": now, "acknowledged_by": by}
    if t.target in ("resolved", "false_alarm"):
        values |= {"resolved_at": now, "resolved_by": by}
    if note:
        values["note"] = note
    return values


async def act(sessions: async_sessionmaker[AsyncSession], alarm_id: int, action: str,
              by: str, note: str | None, now: datetime) -> dict[str, Any]:
    """Apply a guard's action; the alarm JSON after it. Raises ``AlarmNotFound`` or
    ``TransitionRefused``; ``by`` and ``note`` are checked by the caller."""
    t = TRANSITIONS[action]
    for _ in range(RACE_RETRIES):
        async with sessions() as session, session.begin():
            row = (await session.execute(with_site().where(Alarm.id == alarm_id))).first()
            if row is None:
                raise AlarmNotFound(alarm_id)
            alarm, slug, tz = row
            before = alarm.state
            LIFECYCLE.check(action, before)
            done = await session.execute(
                update(Alarm).where(Alarm.id == alarm_id, Alarm.state == before)
                .values(**_values(t, alarm, by, note, now))
                .execution_options(synchronize_session=False))
            if getattr(done, "rowcount", 0) != 1:
                continue  # changed under us: read it again
            session.add(AlarmAction(alarm_id=alarm_id, action=action, from_state=before,
                                    to_state=t.after(before), by=by, at=now, note=note))
            await announce(session, [alarm_id])
            await session.flush()
            await session.refresh(alarm)
            incident = (await incident_ids(session, [alarm]))[alarm.id]
        log.info("alarm.action", alarm=alarm_id, site=slug, action=action, by=by,
                 state_from=before, state_to=t.after(before))
        return alarm_json(alarm, slug, tz, incident)
    raise LIFECYCLE.refused(action, alarm.state)
