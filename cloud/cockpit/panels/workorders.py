"""Panel ``workorders`` (工单): open and overdue orders, today's resolution SLA and each
technician's load.

- ``open``: orders not closed or cancelled (``OPEN_STATES``: a completed order awaits
  verification and still counts);
- ``overdue``: open, not resolved, past ``resolve_due``;
- ``sla_today``: the orders (not cancelled) whose ``resolve_due`` falls on the site's today;
  ``met`` were resolved by it, ``missed`` were not and the deadline has passed, ``pending`` are
  due later today; ``rate`` is met out of met + missed (an order due at 18:00 does not lower
  the morning's figure), in percent, or null before any deadline came;
- ``by_technician``: orders in hand (assigned, accepted, in progress, paused: the load dispatch
  balances) per active technician serving the site, busiest first.
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, or_, select

from cloud.cockpit.panels.registry import PanelContext, panel
from cloud.workorders.dispatch import BUSY_STATES
from cloud.workorders.states import OPEN_STATES
from cloud.workorders.tables import Technician, WorkOrder


def rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent with two decimals; None when there is nothing."""
    if not whole:
        return None
    return float((Decimal(100 * part) / whole).quantize(Decimal("0.01"), ROUND_HALF_UP))


#: No event kind: orders change through people and the rules engine, not one event family;
#: the live feed refreshes the panel on its periodic sweep.
@panel("workorders", "工单", "Work orders", 30)
async def workorders(ctx: PanelContext) -> dict[str, Any]:
    w = WorkOrder
    lo, hi = ctx.day_bounds(ctx.today)
    rows = (await ctx.session.execute(
        select(w.state, w.resolve_due, w.resolved_at, w.assignee_ids)
        .where(w.site_id == ctx.site_id,
               or_(w.state.in_(OPEN_STATES),
                   and_(w.resolve_due >= lo, w.resolve_due < hi, w.state != "cancelled"))))
    ).all()
    open_ = overdue = due = met = missed = 0
    load: Counter[int] = Counter()
    for state, resolve_due, resolved_at, assignees in rows:
        if state in OPEN_STATES:
            open_ += 1
            if resolved_at is None and resolve_due <= ctx.now:
                overdue += 1
        if state in BUSY_STATES:
            load.update(int(i) for i in (assignees or []))
        if lo <= resolve_due < hi and state != "cancelled":
            due += 1
            if resolved_at is not None and resolved_at <= resolve_due:
                met += 1
            elif resolve_due <= ctx.now:
                missed += 1
    techs = (await ctx.session.execute(
        select(Technician.id, Technician.name, Technician.site_ids, Technician.active))).all()
    pairs = sorted(((load.get(tid, 0), str(name)) for tid, name, sites, active in techs
                    if load.get(tid) or (active and ctx.site_id in (sites or []))),
                   key=lambda p: (-p[0], p[1]))
    by_tech = [{"name": name, "open": n} for n, name in pairs]
    return {"empty": not rows and not by_tech, "open": open_, "overdue": overdue,
            "sla_today": {"due": due, "met": met, "missed": missed,
                          "pending": due - met - missed, "rate": rate(met, met + missed)},
            "by_technician": by_tech}
