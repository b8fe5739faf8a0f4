"""能耗 / Energy and water: today's kWh and m³ per building, the site's 30-day trend, the top
five consumers today, meters whose counters misbehaved and meters offline.

Consumption is the hourly rollups' (``energy_kwh`` / ``water_m3``: the rise of each meter's
register booked to the hour of the newer reading, per device, building and site). A building
is listed when it used anything in the trend's 30 days (so the list does not empty at
midnight), with 0 for a day it has not reported yet. A top consumer's building is the one
ingest books its consumption to (``rollup_handlers.buildings_of``). kWh and m³ are numbers
with two decimals (not money); the trend's days are the site's, a day without data is 0.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import select

from cloud.cockpit import rollups as ru
from cloud.cockpit.panels.registry import PanelContext, panel
from cloud.cockpit.rollup_handlers import buildings_of
from cloud.db.models import Device, Meter
from cloud.records.tables import Building
from cloud.web.present import utc_iso

TREND_DAYS: Final = 30
TOP: Final = 5
#: How many anomalous or offline meters the wall lists (the devices page has them all).
LISTED: Final = 10
CENT = Decimal("0.01")


def amount(value: Decimal) -> float:
    """A quantity (kWh, m³) as a JSON number with two decimals."""
    return float(value.quantize(CENT))


async def _building_names(ctx: PanelContext) -> dict[str, str]:
    return {code: name for code, name in (await ctx.session.execute(
        select(Building.code, Building.name).where(Building.site_id == ctx.site_id)))}


async def _buildings_of(ctx: PanelContext, devices: list[str]) -> dict[str, str]:
    """The building each device's consumption is booked to: the ingest handler's own rule
    (``rollup_handlers.buildings_of``: the active billing meter's building, else the unit the
    meter's readings name, ``meters.unit_ref``)."""
    if not devices:
        return {}
    units = {key: unit for key, unit in (await ctx.session.execute(
        select(Device.key, Meter.unit_ref).outerjoin(Meter, Meter.device_id == Device.id)
        .where(Device.site_id == ctx.site_id, Device.key.in_(devices))))}
    return await buildings_of(ctx.session, ctx.site_id, {d: units.get(d) for d in devices})


async def _buildings(ctx: PanelContext) -> list[dict[str, Any]]:
    start, end = ctx.day_bounds(ctx.today)
    window = ctx.day_start(ctx.today - timedelta(days=TREND_DAYS - 1))
    seen: set[str] = set()
    today: dict[str, dict[str, Decimal]] = {}
    for metric in (ru.ENERGY_KWH, ru.WATER_M3):
        seen.update(await ru.totals(ctx.session, ctx.site_id, metric, ru.BUILDING, window,
                                    start))
        today[metric] = await ru.totals(ctx.session, ctx.site_id, metric, ru.BUILDING, start,
                                        end)
        seen.update(today[metric])
    names = await _building_names(ctx)
    zero = Decimal(0)
    return [{"building": b, "name": names.get(b, b),
             "today_kwh": amount(today[ru.ENERGY_KWH].get(b, zero)),
             "today_m3": amount(today[ru.WATER_M3].get(b, zero))} for b in sorted(seen)]


async def _offline(ctx: PanelContext) -> list[dict[str, Any]]:
    rows = (await ctx.session.execute(
        select(Device.key, Device.offline_reason, Device.status_changed_at)
        .where(Device.site_id == ctx.site_id, Device.kind == "meter",
               Device.online.is_(False))
        .order_by(Device.status_changed_at.desc(), Device.key).limit(LISTED))).all()
    return [{"device": key, "reason": reason, "since": utc_iso(since)}
            for key, reason, since in rows]


@panel("energy", "能耗与用水", "Energy and water", 70, kinds=("meter.",))
async def energy_panel(ctx: PanelContext) -> dict[str, Any]:
    buildings = await _buildings(ctx)
    kwh = await ru.daily_totals(ctx.session, ctx.site_id, ru.ENERGY_KWH, ru.SITE,
                                ru.WHOLE_SITE, TREND_DAYS, ctx.tz, ctx.now)
    m3 = await ru.daily_totals(ctx.session, ctx.site_id, ru.WATER_M3, ru.SITE, ru.WHOLE_SITE,
                               TREND_DAYS, ctx.tz, ctx.now)
    start, end = ctx.day_bounds(ctx.today)
    ranked = await ru.top(ctx.session, ctx.site_id, ru.ENERGY_KWH, ru.DEVICE, start, end, TOP)
    where = await _buildings_of(ctx, [d for d, _ in ranked])
    top = [{"device": d, "building": where.get(d), "today_kwh": amount(v)} for d, v in ranked]
    anomalies = []
    for a in (await ru.meter_anomalies(ctx.session, ctx.site_id))[:LISTED]:
        zh, en = ru.ANOMALY_LABELS.get(a.reason, (a.reason, a.reason))
        anomalies.append({"device": a.device, "reason": a.reason, "reason_zh": zh,
                          "reason_en": en, "at": utc_iso(a.at)})
    offline = await _offline(ctx)
    return {"empty": not (buildings or kwh.any_data or m3.any_data or anomalies or offline),
            "buildings": buildings,
            "trend": {"days": [d.isoformat() for d in kwh.days],
                      "kwh": [amount(v) for v in kwh.values],
                      "m3": [amount(v) for v in m3.values]},
            "top": top, "anomalies": anomalies, "offline": offline}
