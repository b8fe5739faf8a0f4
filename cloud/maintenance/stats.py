"""Equipment statistics: faults per asset, MTBF, MTTR and SLA compliance.

Number types, and why: durations (MTBF, MTTR) are ``timedelta`` — exact to the microsecond,
summed and divided without float drift, and the caller formats them as hours or days. The
SLA compliance percentage is a ``Decimal`` rounded half-up to 0.01, because it goes into
reports and maintenance contracts that compare it with a threshold such as 95.00 %; a float
would print 94.99999999 for a compliant contractor.

Definitions (over a window ``[since, until)``, all times timezone-aware):

* a fault counts for the window when it *started* in it;
* downtime is the union of fault intervals clipped to the window (an unresolved fault lasts
  until ``until``; overlapping faults of one asset are not counted twice);
* operating time = the asset's time in the window (from its install date, if later) − downtime;
* MTBF = operating time / faults, MTTR = mean(resolved − started) over resolved faults that
  started in the window; both ``None`` when there is nothing to divide by;
* an order is *on time* when closed at or before its due time; it is *late* when closed
  after it, or still open at ``until`` past its due time; open orders not yet due are not
  judged. Compliance = on time / (on time + late) × 100, ``None`` when nothing was judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from cloud.maintenance.model import Asset
from cloud.maintenance.schedule import DEFAULT_SITE_TZ

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class FaultRecord:
    asset_id: str
    started: datetime
    resolved: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    opened: datetime
    due: datetime
    closed: datetime | None = None
    asset_id: str | None = None


@dataclass(frozen=True, slots=True)
class AssetStats:
    asset_id: str
    faults: int
    downtime: timedelta
    operating: timedelta
    mtbf: timedelta | None
    mttr: timedelta | None


def _aware(t: datetime, what: str) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"{what} 缺少时区 / {what} has no timezone")
    return t


def _union(spans: Iterable[tuple[datetime, datetime]]) -> timedelta:
    total = timedelta()
    cur: tuple[datetime, datetime] | None = None
    for a, b in sorted(spans):
        if cur is None or a > cur[1]:
            if cur is not None:
                total += cur[1] - cur[0]
            cur = (a, b)
        else:
            cur = (cur[0], max(cur[1], b))
    if cur is not None:
        total += cur[1] - cur[0]
    return total


def asset_stats(asset: Asset | str, faults: Iterable[FaultRecord], since: datetime,
                until: datetime, site_tz: str = DEFAULT_SITE_TZ) -> AssetStats:
    """One asset's faults, downtime, operating time, MTBF and MTTR in ``[since, until)``.

    An ``Asset`` (not a bare id) starts operating at midnight of its install date, site time.
    """
    _aware(since, "since")
    _aware(until, "until")
    if until <= since:
        raise ValueError("统计区间为空 / the window is empty (until <= since)")
    asset_id = asset if isinstance(asset, str) else asset.id
    begin = since
    if not isinstance(asset, str):
        installed = datetime.combine(asset.install_date, time(), ZoneInfo(site_tz))
        begin = min(max(since, installed), until)
    mine = [f for f in faults if f.asset_id == asset_id]
    counted = [f for f in mine if since <= _aware(f.started, "started") < until]
    spans = []
    for f in mine:
        end = until if f.resolved is None else min(_aware(f.resolved, "resolved"), until)
        start = max(f.started, begin)
        if start < end:
            spans.append((start, end))
    downtime = _union(spans)
    operating = (until - begin) - downtime
    repairs = [f.resolved - f.started for f in counted if f.resolved is not None]
    mtbf = operating / len(counted) if counted else None
    mttr = sum(repairs, timedelta()) / len(repairs) if repairs else None
    return AssetStats(asset_id, len(counted), downtime, operating, mtbf, mttr)


def fleet_stats(assets: Sequence[Asset | str], faults: Iterable[FaultRecord], since: datetime,
                until: datetime) -> dict[str, AssetStats]:
    """``asset_stats`` for each asset, keyed by asset id (assets with no fault included)."""
    records = list(faults)
    out: dict[str, AssetStats] = {}
    for a in assets:
        s = asset_stats(a, records, since, until)
        out[s.asset_id] = s
    return out


def faults_per_asset(faults: Iterable[FaultRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in faults:
        out[f.asset_id] = out.get(f.asset_id, 0) + 1
    return out


def sla_compliance(orders: Iterable[OrderRecord], until: datetime) -> Decimal | None:
    """Percentage of judged orders closed on time, Decimal to 0.01 (see module notes)."""
    _aware(until, "until")
    on_time = late = 0
    for o in orders:
        due = _aware(o.due, "due")
        if o.closed is not None:
            if _aware(o.closed, "closed") <= due:
                on_time += 1
            else:
                late += 1
        elif until > due:
            late += 1
    if on_time + late == 0:
        return None
    pct = Decimal(on_time * 100) / Decimal(on_time + late)
    return pct.quantize(_CENT, rounding=ROUND_HALF_UP)
