"""The console's duties (``cloud.jobs.duties``): the recurring checks each console runs but
only one takes per tick. Each wraps the feature's own one-shot function, so what a tick does
is the feature's business and only the "who" is decided here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.alarms.escalation import DEFAULT_INTERVAL_S, check_once
from cloud.alarms.hub import AlarmHub
from cloud.alarms.policy import AlarmPolicy
from cloud.jobs.duties import Tick, run_duty
from cloud.jobs.schedules import tick as schedule_tick
from cloud.maintenance.generator import generate
from cloud.maintenance.schedule import site_today
from cloud.workorders.service import check_sla
from contract import Clock

log = structlog.get_logger(__name__)

SLA_EVERY_S = 30.0
PM_EVERY_S = 3600.0
SCHEDULE_EVERY_S = 30.0


@dataclass(frozen=True)
class Duty:
    name: str
    every_s: float
    tick: Tick

    def run(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, owner: str) -> Any:
        """The duty's loop (a coroutine for the console's TaskGroup)."""
        return run_duty(self.name, self.every_s, self.tick, sessions, clock, owner)


def console_duties(sessions: async_sessionmaker[AsyncSession], clock: Clock,
                   policy: AlarmPolicy, hub: AlarmHub | None,
                   wake_jobs: Callable[[], None] | None = None) -> list[Duty]:
    """Alarm escalation, SLA checks, PM generation and the schedule tick."""

    async def escalate() -> None:
        await check_once(sessions, clock, policy, hub)

    async def sla() -> None:
        async with sessions() as session, session.begin():
            escalated = await check_sla(session, clock.now())
        if escalated:
            log.info("workorders.sla_escalated", orders=len(escalated))

    async def pm() -> None:
        async with sessions() as session, session.begin():
            created = await generate(session, site_today(clock), clock.now())
        if created:
            log.info("maintenance.generated", orders=len(created))

    async def schedules() -> None:
        if await schedule_tick(sessions, clock) and wake_jobs is not None:
            wake_jobs()

    return [Duty("alarm_escalation", DEFAULT_INTERVAL_S, escalate),
            Duty("workorder_sla", SLA_EVERY_S, sla),
            Duty("pm_generation", PM_EVERY_S, pm),
            Duty("schedule_tick", SCHEDULE_EVERY_S, schedules)]
