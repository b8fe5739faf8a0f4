"""Escalation: an alarm nobody acknowledged in time goes up the chain of roles.

An open alarm reaches level ``n`` once ``n`` acknowledge windows of its severity have passed
since it was opened (``EscalationPolicy``); each level reached is one ``escalated`` action
naming the role notified, and the alarm is marked escalated. Acknowledging (or any other
guard action) stops it. The loop is stateless, so any number of web workers may run it: the
update is conditional on the level it read, and only one worker's update of a level wins.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.hub import AlarmHub
from cloud.alarms.notify import announce
from cloud.alarms.policy import AlarmPolicy
from cloud.alarms.tables import Alarm, AlarmAction
from contract import Clock

log = structlog.get_logger(__name__)

DEFAULT_INTERVAL_S = 5.0
CHECK_TIMEOUT_S = 30.0


def own_window(evidence: object) -> float | None:
    """The alarm's own acknowledge window, when its event named one (a patrol plan's
    ``escalate_s``: the supervisor hears of a missed checkpoint when the plan says)."""
    raw = evidence.get("escalate_s") if isinstance(evidence, dict) else None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
        return float(raw)
    return None


async def check_once(sessions: async_sessionmaker[AsyncSession], clock: Clock,
                     policy: AlarmPolicy, hub: AlarmHub | None = None) -> list[int]:
    """Escalate every open alarm that is due by ``clock``; the ids escalated.

    Each alarm is escalated in its own short transaction, so this never holds one alarm's
    row lock while waiting for another's (the ingest path locks several at once)."""
    esc = policy.escalation
    now = clock.now()
    async with sessions() as session:
        candidates = (await session.execute(
            select(Alarm.id, Alarm.severity, Alarm.opened_at, Alarm.escalation_level,
                   Alarm.evidence)
            .where(Alarm.state == "open", Alarm.escalation_level < esc.max_level)
            .order_by(Alarm.id))).all()
    escalated: list[int] = []
    for alarm_id, severity, opened_at, before, evidence in candidates:
        window = own_window(evidence) or esc.ack_timeout_s.get(severity)
        if not window:
            continue
        waited = (now - opened_at).total_seconds()
        level = min(esc.max_level, int(waited // window))
        if level <= before:
            continue
        async with sessions() as session, session.begin():
            done = await session.execute(
                update(Alarm).where(Alarm.id == alarm_id, Alarm.state == "open",
                                    Alarm.escalation_level == before)
                .values(escalated=True, escalation_level=level, escalated_at=now,
                        updated_at=now)
                .execution_options(synchronize_session=False))
            if getattr(done, "rowcount", 0) != 1:
                continue  # acknowledged, or escalated by another worker, meanwhile
            for step in range(before + 1, level + 1):
                role = esc.chain[step]
                session.add(AlarmAction(alarm_id=alarm_id, action="escalated",
                                        from_state="open", to_state="open", at=now,
                                        role=role.key, level=step,
                                        note=f"通知{role.zh} / notified {role.en}"))
                log.warning("alarm.escalated", alarm=alarm_id, severity=severity, level=step,
                            role=role.key, waited_s=round(waited))
            await (hub.announce if hub is not None else announce)(session, [alarm_id])
        escalated.append(alarm_id)
    return escalated


async def run_escalation(sessions: async_sessionmaker[AsyncSession], clock: Clock,
                         policy: AlarmPolicy, hub: AlarmHub | None,
                         interval: float = DEFAULT_INTERVAL_S) -> None:
    """Check every ``interval`` seconds until cancelled; a failed check is logged and the
    next one tries again (the database may be briefly unreachable)."""
    while True:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await check_once(sessions, clock, policy, hub)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("alarm.escalation_check_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(interval)
