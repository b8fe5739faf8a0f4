"""收费 / Finance: this month's collection rate and the arrears by building.

Every figure is the finance pages' own (``cloud.payments.arrears``): billed and collected are
``collection(..., by="building")`` of this month's period (``YYYY-MM`` in the site's calendar)
summed by ``totals``, so the rate is the 收缴率 of ``/api/stats/collection`` (a fraction to
four places, shown here in percent with two decimals — the same digits); arrears are the rows
of ``arrears(...)`` as of the site's today (overdue, late fees included), summed per building.
Nothing is recomputed differently from what finance staff see.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from cloud.cockpit.panels.registry import PanelContext, panel
from cloud.payments.arrears import arrears, collection, totals
from cloud.records.tables import Building

CENT = Decimal("0.01")


def yuan(value: Decimal | str) -> str:
    """Yuan with two decimals: ``"1234.50"``."""
    return str(Decimal(value).quantize(CENT))


def percent(fraction: str | None) -> float | None:
    """The finance pages' rate (``"0.8333"``) in percent with two decimals (``83.33``)."""
    if fraction is None:
        return None
    return float((Decimal(fraction) * 100).quantize(CENT))


@panel("finance", "物业收费", "Collection", 90)
async def finance_panel(ctx: PanelContext) -> dict[str, Any]:
    period = ctx.today.strftime("%Y-%m")
    groups = await collection(ctx.session, site_id=ctx.site_id, period=period, by="building")
    month = totals(groups)
    owed: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for row in await arrears(ctx.session, site_id=ctx.site_id, today=ctx.today):
        owed[row.building] += row.unpaid
    names = {code: name for code, name in (await ctx.session.execute(
        select(Building.code, Building.name).where(Building.site_id == ctx.site_id)))}
    by_building = [{"building": code, "name": names.get(code, code), "arrears": yuan(total)}
                   for code, total in sorted(owed.items(), key=lambda kv: (-kv[1], kv[0]))]
    return {"empty": not groups and not by_building, "period": period,
            "billed": yuan(month["billed"]), "collected": yuan(month["collected"]),
            "collection_rate": percent(month["rate"]), "arrears_by_building": by_building}
