"""When each maintenance visit falls due, which tier it is, and when its order is released.

The calendar (why "every 15 days" means "twice a calendar month")
------------------------------------------------------------------
《特种设备安全监察条例》§31 and TSG T5002 ask for elevator maintenance "at least every 15
days", and maintenance contracts price it as 半月保养: 24 visits a year. Those two cannot
both hold exactly: 24 × 15 = 360 < 365, so ``start + 15·k days`` gives 25 visits in most
years and drifts through the calendar. We keep the contract's count: the plan's year is cut
into half-month slots anchored on ``plan.start``::

    slot 2m   = start + m months            (day clamped to the month's end: Jan 31 → Feb 28)
    slot 2m+1 = start + m months + 15 days

Months are always added to the original start (never to the previous slot), so a plan that
starts on the 31st does not creep to the 28th for good. Gaps are 15 days, then 13–16 days
(the month's length − 15). A 16-day gap after a 31-day month is why orders are released
``release_days_ahead`` days early: the technician can do the visit inside the 15 days.
A monthly cadence uses every second slot, a yearly one every 24th.

The tiers (one order per visit, the highest tier wins)
------------------------------------------------------
Every visit is at least a base-tier (half-month) visit. The last visit of each quarter does
the quarterly checklist instead, the last of each half-year the half-year one, the last of
each year the annual one (TSG T5002: the bigger checklists include the smaller). Counting
visits ``i = 0, 1, …`` from the plan's start, a tier of ``u`` base periods is due on visit
``i`` when ``(i + 1) % u == 0``; ``Due.tier`` is the biggest such tier and ``Due.covers``
lists all of them, biggest first. So a plan's first year has 24 visits — 1 annual, 1
half-year, 2 quarterly, 20 half-month orders — and ``tier_hits`` counts
{half_month: 24, quarterly: 4, half_year: 2, annual: 1}, the issue's acceptance figures.

Dates here are the site's calendar dates (Asia/Shanghai by default); ``site_today`` turns an
injected clock into one.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from cloud.maintenance.model import Asset, Plan, Tier
from contract.clock import Clock

DEFAULT_SITE_TZ = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class Due:
    """One maintenance visit: the order to create for an asset, and from when."""

    plan_id: str
    asset_id: str
    tier: str  # the highest tier due on this visit: what the order is for
    due_date: date
    release_date: date  # due_date − plan.release_days_ahead: create the order on/after this
    key: str  # stable identity: creating orders by key makes a generator run idempotent
    covers: tuple[str, ...] = ()  # every tier this visit satisfies, highest first


def due_key(plan_id: str, asset_id: str, due_date: date) -> str:
    """Same plan, asset and date → same key, in every run and on every machine."""
    return f"pm:{plan_id}:{asset_id}:{due_date.isoformat()}"


def add_months(d: date, months: int) -> date:
    """``d`` moved by whole months, the day clamped to the target month's last day."""
    y, m0 = divmod(d.year * 12 + (d.month - 1) + months, 12)
    last = calendar.monthrange(y, m0 + 1)[1]
    return date(y, m0 + 1, min(d.day, last))


def slot_date(start: date, slot: int) -> date:
    """The date of half-month slot ``slot`` (0-based) of a plan starting on ``start``."""
    months, half = divmod(slot, 2)
    anchor = add_months(start, months)
    return anchor + timedelta(days=15) if half else anchor


def _visits(plan: Plan) -> Iterator[tuple[date, tuple[Tier, ...]]]:
    """Every visit of the plan from its start, with the tiers it covers (highest first)."""
    base = plan.base.units
    i = 0
    while True:
        covers = tuple(t for t in reversed(plan.tiers) if (i + 1) % (t.units // base) == 0)
        yield slot_date(plan.start, i * base), covers
        i += 1


def occurrences(plan: Plan, asset: Asset, start: date, end: date) -> list[Due]:
    """The plan's visits for ``asset`` due in ``[start, end)`` (end excluded), in date order.

    Visits before the plan's start, or before the asset was installed, do not exist.
    """
    if asset.kind != plan.asset_kind:
        raise ValueError(
            f"设备 {asset.id} 是 {asset.kind}，计划 {plan.id} 只适用于 {plan.asset_kind} / "
            f"asset {asset.id} is a {asset.kind}; plan {plan.id} is for {plan.asset_kind}")
    ahead = timedelta(days=plan.release_days_ahead)
    out: list[Due] = []
    for when, covers in _visits(plan):
        if when >= end:
            break
        if when < start or when < asset.install_date:
            continue
        out.append(Due(plan.id, asset.id, covers[0].name, when, when - ahead,
                       due_key(plan.id, asset.id, when), tuple(t.name for t in covers)))
    return out


def tier_hits(dues: Iterable[Due]) -> Counter[str]:
    """How many times each tier's checklist was done: an annual visit counts for all four."""
    hits: Counter[str] = Counter()
    for d in dues:
        hits.update(d.covers or (d.tier,))
    return hits


def release(now: date, dues: Iterable[Due], created: Iterable[str] = ()) -> list[Due]:
    """The visits whose orders should exist by ``now`` and are not among ``created`` keys.

    Run it on every tick with the keys of the orders already made: a second run the same day
    (or after a restart) returns nothing new, so no visit ever gets two orders.
    """
    done = set(created)
    out: list[Due] = []
    for d in dues:
        if d.release_date <= now and d.key not in done:
            done.add(d.key)
            out.append(d)
    return out


def site_today(clock: Clock, tz: str = DEFAULT_SITE_TZ) -> date:
    """Today's date on the site's calendar: at 23:30 UTC it is already tomorrow in Shanghai."""
    return clock.now().astimezone(ZoneInfo(tz)).date()
