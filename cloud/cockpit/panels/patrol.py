"""巡更 / Patrol: today's rounds as the patrol report counts them.

The rows are the report's own (``cloud.patrol.report_facts.facts``: rounds whose scheduled
start falls in the site's day) and the figures and completion rate its arithmetic
(``cloud.patrol.report``), so the wall and the report never disagree.
"""

from __future__ import annotations

from typing import Any

from cloud.cockpit.panels.registry import PanelContext, panel
from cloud.patrol import report as rp
from cloud.patrol.report_facts import facts


@panel("patrol", "巡更", "Patrol", 60, kinds=("patrol.",))
async def patrol_panel(ctx: PanelContext) -> dict[str, Any]:
    rounds, _ = await facts(ctx.session, ctx.site_id, ctx.today, ctx.today, ctx.tz)
    _, total = rp.group(rounds, "day", str)
    t = total.tally
    rate = total.completion_rate
    return {"empty": t.rounds_planned == 0,
            "today": {"planned": t.rounds_planned, "completed": t.rounds_completed,
                      "incomplete": t.rounds_incomplete, "missed": t.rounds_missed,
                      "rate": float(rate) if rate is not None else None}}
