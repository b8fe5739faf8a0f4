"""停车 / Parking: occupancy per lot, entries and exits per hour today vs yesterday, today's
income.

Occupancy is the console's open stays (``parking_sessions`` in state ``inside``) per lot. The
console does not hold the lots' sizes (they live in the edge's site file), so ``capacity`` is
null and a lot is named by its id; a lot is listed when it has a stay inside, a tariff, or
traffic today or yesterday. Entries, exits and income come from the hourly rollups
(``parking_entries`` / ``parking_exits`` / ``parking_income_fen``, subject ``site``), by the
site's local hours; income is what drivers actually paid, shown as yuan.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from cloud.cockpit import rollups as ru
from cloud.cockpit.panels.registry import PanelContext, panel
from cloud.parking.tables import LotTariff, ParkingSession

CENT = Decimal("0.01")


def yuan_of_fen(fen: Decimal) -> str:
    """Integer fen as yuan with two decimals: ``123450`` → ``"1234.50"``."""
    return str((fen / 100).quantize(CENT))


async def _lots(ctx: PanelContext) -> list[dict[str, Any]]:
    inside = {lot: int(n) for lot, n in (await ctx.session.execute(
        select(ParkingSession.lot, func.count()).where(
            ParkingSession.site_id == ctx.site_id, ParkingSession.state == "inside")
        .group_by(ParkingSession.lot))).all()}
    known = set(inside)
    known.update((await ctx.session.scalars(select(LotTariff.lot).where(
        LotTariff.site_id == ctx.site_id))).all())
    start, _ = ctx.day_bounds(ctx.today - timedelta(days=1))
    _, end = ctx.day_bounds(ctx.today)
    for metric in (ru.PARKING_ENTRIES, ru.PARKING_EXITS):
        known.update(await ru.totals(ctx.session, ctx.site_id, metric, ru.LOT, start, end))
    return [{"lot": lot, "name": lot, "occupied": inside.get(lot, 0), "capacity": None}
            for lot in sorted(known)]


async def _hours(ctx: PanelContext, metric: str, day_offset: int) -> list[int]:
    return [int(v) for v in await ru.hourly_today(ctx.session, ctx.site_id, metric, ctx.tz,
                                                  ctx.now, day_offset=day_offset)]


@panel("parking", "停车", "Parking", 40, kinds=("parking.", "gate."))
async def parking_panel(ctx: PanelContext) -> dict[str, Any]:
    lots = await _lots(ctx)
    hourly: dict[str, Any] = {"hours": list(range(24))}
    for name, metric, offset in (("today_entries", ru.PARKING_ENTRIES, 0),
                                 ("today_exits", ru.PARKING_EXITS, 0),
                                 ("yesterday_entries", ru.PARKING_ENTRIES, -1),
                                 ("yesterday_exits", ru.PARKING_EXITS, -1)):
        hourly[name] = await _hours(ctx, metric, offset)
    start, end = ctx.day_bounds(ctx.today)
    income = await ru.total(ctx.session, ctx.site_id, ru.PARKING_INCOME_FEN, start, end)
    traffic = any(any(hourly[k]) for k in hourly if k != "hours")
    return {"empty": not lots and not traffic and not income, "lots": lots, "hourly": hourly,
            "income_today": yuan_of_fen(income)}
