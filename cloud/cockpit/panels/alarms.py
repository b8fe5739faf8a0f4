"""Panel ``alarms`` (告警): what is open by severity, today's count against the 7-day average,
and a ticker of the latest with place and age.

"Open" is every alarm a guard has not finished with (open, acknowledged, in progress:
``cloud.alarms.policy.ACTIVE_STATES``). Alarms are counted on the day the console opened them
(``opened_at``), in the site's days; the average is over the 7 whole days before today. The
ticker is the 10 most recently opened, whatever their state; its time and age are the device
time of the first event (when it happened on site, which a buffering edge may report late).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from cloud.alarms.policy import ACTIVE_STATES, DEFAULT_RULES, SEVERITIES
from cloud.alarms.tables import Alarm
from cloud.cockpit.panels.registry import PanelContext, panel
from cloud.web.present import utc_iso

LATEST = 10
AVG_DAYS = 7
#: Every family of event kinds the alarm policy raises on (``fire.``, ``elevator.``, …): a
#: site's policy file may re-rate or add kinds within them.
KINDS = tuple(sorted({r.kind.split(".", 1)[0] + "." for r in DEFAULT_RULES}))


@panel("alarms", "告警", "Alarms", 20, kinds=KINDS, on_alarm_change=True)
async def alarms(ctx: PanelContext) -> dict[str, Any]:
    a = Alarm
    open_ = dict.fromkeys(SEVERITIES, 0)
    for severity, n in await ctx.session.execute(
            select(a.severity, func.count()).where(a.site_id == ctx.site_id,
                                                   a.state.in_(ACTIVE_STATES))
            .group_by(a.severity)):
        if severity in open_:
            open_[severity] = int(n)
    today_start, today_end = ctx.day_bounds(ctx.today)
    week_start = ctx.day_start(ctx.today - timedelta(days=AVG_DAYS))

    def opened(lo: Any, hi: Any) -> Any:
        return select(func.count()).where(a.site_id == ctx.site_id, a.opened_at >= lo,
                                          a.opened_at < hi)

    today = int(await ctx.session.scalar(opened(today_start, today_end)) or 0)
    week = int(await ctx.session.scalar(opened(week_start, today_start)) or 0)
    rows = (await ctx.session.scalars(
        select(a).where(a.site_id == ctx.site_id)
        .order_by(a.opened_at.desc(), a.id.desc()).limit(LATEST))).all()
    latest = [{"id": r.id, "kind": r.kind, "severity": r.severity, "state": r.state,
               "title_zh": r.title_zh, "title_en": r.title_en, "place": r.location_text or "",
               "ts": utc_iso(r.first_ts),
               "age_s": max(0, int((ctx.now - r.first_ts).total_seconds()))} for r in rows]
    return {"empty": not latest, "open": open_, "today": today,
            "avg_7d": round(week / AVG_DAYS, 1), "latest": latest}
