"""巡更 / Patrol: today's rounds as the patrol report counts them.

The figures and the completion rate are ``cloud.patrol.report``'s (``Tally``, ``rate``): a
round is planned on the site day its scheduled start falls in, completed / incomplete /
missed by its outcome, one still in progress is planned only. The report's own query lives in
its HTTP adapter (``cloud.patrol.report_routes.facts``, protected); the one below selects the
same rows (scheduled start in the site's day) and hands them to the report's arithmetic, so the
wall and the report never disagree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloud.cockpit.panels.registry import PanelContext, panel
from cloud.patrol import report as rp
from cloud.patrol.tables import PatrolRound


@panel("patrol", "巡更", "Patrol", 60, kinds=("patrol.",))
async def patrol_panel(ctx: PanelContext) -> dict[str, Any]:
    lo, hi = ctx.day_bounds(ctx.today)
    rows = (await ctx.session.execute(select(PatrolRound.status, PatrolRound.guard).where(
        PatrolRound.site_id == ctx.site_id, PatrolRound.scheduled_at >= lo,
        PatrolRound.scheduled_at < hi))).all()
    facts = [rp.RoundFact(day=ctx.today, route="", guard=guard, status=status)
             for status, guard in rows]
    _, total = rp.group(facts, "day", str)
    t = total.tally
    rate = total.completion_rate
    return {"empty": t.rounds_planned == 0,
            "today": {"planned": t.rounds_planned, "completed": t.rounds_completed,
                      "incomplete": t.rounds_incomplete, "missed": t.rounds_missed,
                      "rate": float(rate) if rate is not None else None}}
