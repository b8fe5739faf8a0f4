"""A scheduled bill run waits until the site's edge has delivered the period's readings.

The schedule fires at a wall-clock time (the 1st, 02:00); a site whose link was down across
the period's end still holds its boundary readings in the edge's outbox then, and a run
started without them would hold those flats (``no_reading``) in a period that cannot be run
twice. So the run starts once the edge's latest health report (``up/health``), made after the
period's end, shows nothing buffered from before it — or when the site has no edge reporting,
or, at the latest, ``MAX_WAIT`` after the slot or after the job began waiting, whichever is
later (then the flats without readings are held for
review, as before). The waiting is visible on the job (schedules page).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.sites.edge_health import EdgeHealth, latest_health
from contract import Clock

log = structlog.get_logger(__name__)

#: How long a run waits for a silent or backlogged edge.
MAX_WAIT = timedelta(hours=24)
#: How often the edge's health is looked at again (it reports every 15 s).
POLL_S = 5.0


def delivered(health: EdgeHealth | None, period_end: datetime) -> bool:
    """Whether nothing from before ``period_end`` can still be on its way from the edge."""
    if health is None:
        return True  # no edge reports for this site: nothing to wait for
    if health.edge_ts < period_end:
        return False  # its last report predates the period's end
    if health.oldest_age_s is None:
        return True  # its outbox was empty
    return health.edge_ts - timedelta(seconds=health.oldest_age_s) >= period_end


async def wait_for_period_data(sessions: async_sessionmaker[AsyncSession], clock: Clock, *,
                               site_id: int, period_end: datetime, slot: datetime,
                               report: Callable[[dict[str, Any]], Awaitable[None]],
                               poll_s: float = POLL_S) -> bool:
    """Return once the period's data is in (True) or the wait is over (False)."""
    deadline = max(slot, clock.now()) + MAX_WAIT  # a slot missed long ago still waits
    while True:
        async with sessions() as session:
            health = await latest_health(session, site_id, clock.now())
        if delivered(health, period_end):
            return True
        if clock.now() >= deadline:
            log.warning("bill_run.edge_backlog_wait_over", site_id=site_id,
                        period_end=period_end.isoformat(), waited=str(MAX_WAIT))
            return False
        await report({"waiting": "edge_backlog",
                      "zh": "等待边缘网关补传账期结束前的数据",
                      "en": "waiting for the edge to send what it holds from before the "
                            "period's end",
                      "edge_ts": None if health is None else health.edge_ts.isoformat(),
                      "oldest_age_s": None if health is None else health.oldest_age_s})
        await asyncio.sleep(poll_s)
