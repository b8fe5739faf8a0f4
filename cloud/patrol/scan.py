"""A guard's phone scan of a QR checkpoint sticker: reading the request, and what the console
notices about it (``flags``, stored and returned; a flagged scan is still recorded):

- ``old_sticker``: the sticker's serial is older than the checkpoint's current one (it was
  reissued: this one may have been photographed). Such a scan is not forwarded to the edge,
  so it never counts for a round; the supervisor sees it in the scan list.
- ``outside_window``: no active plan whose route holds the checkpoint has a round whose window
  covers the phone's time. A round scheduled at S has the window
  ``[S − start_window_s, S + max over its points (offset_s + tolerance + late_s)]``, the
  tolerance being the checkpoint's own (``tolerances``) or the plan's.
- ``clock_skew``: the phone's time is more than ``SKEW_S`` from the console's. A scan kept on
  an offline phone and sent later carries this flag too (its phone time is then older).

No location is not a flag: lat/lon/accuracy are stored null. Round starts come from
``cloud.patrol.schedule`` (the edge's rules).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor
from cloud.auth.tables import StaffUser
from cloud.patrol.schedule import scheduled_starts
from cloud.patrol.service import plan_entry
from cloud.patrol.tables import PatrolPlan, PatrolRoute
from cloud.web.errors import bad_param

FIELDS: Final = ("token", "phone_time", "lat", "lon", "accuracy_m")
#: Body fields that would name the guard: the guard is the login.
GUARD_FIELDS: Final = ("guard", "by")
SKEW_S: Final = 300
MAX_ACCURACY_M: Final = 100_000.0
FLAGS: Final = ("old_sticker", "outside_window", "clock_skew")


@dataclass(frozen=True, slots=True)
class ScanInput:
    token: str
    phone_time: datetime  # UTC
    lat: float | None
    lon: float | None
    accuracy_m: float | None


def _number(body: dict[str, Any], name: str, lo: float, hi: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if (not isinstance(value, int | float) or isinstance(value, bool)
            or not math.isfinite(value) or not lo <= value <= hi):
        raise bad_param(name, f"须为 {lo:g} 到 {hi:g} 之间的数", f"must be a number from {lo:g} "
                        f"to {hi:g}")
    return float(value)


def read_scan(body: dict[str, Any]) -> ScanInput:
    """The scan in a request body; each refusal names its field."""
    named = next((f for f in GUARD_FIELDS if f in body), None)
    if named is not None:
        raise bad_param(named, "打卡人由登录身份决定，不能在请求中指定",
                        "the guard is the login; it cannot be given in the request")
    for name in body:
        if name not in FIELDS:
            raise bad_param(str(name)[:40], f"未知字段，可用：{', '.join(FIELDS)}",
                            f"unknown field; accepted: {', '.join(FIELDS)}")
    token = body.get("token")
    if not isinstance(token, str) or not token.strip():
        raise bad_param("token", "缺少巡更点二维码内容", "the sticker's token is required")
    raw = body.get("phone_time")
    if not isinstance(raw, str) or not raw.strip():
        raise bad_param("phone_time", "缺少手机时间（ISO 8601，带时区）",
                        "the phone's time is required (ISO 8601 with offset)")
    try:
        at = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise bad_param("phone_time", f"不是 ISO 8601 时间：{raw[:40]!r}",
                        f"not an ISO 8601 time: {raw[:40]!r}") from None
    if at.tzinfo is None:
        raise bad_param("phone_time", "时间必须带时区偏移，例如 2026-12-07T22:05:00+08:00",
                        "time must include a UTC offset, e.g. 2026-12-07T22:05:00+08:00")
    lat = _number(body, "lat", -90, 90)
    lon = _number(body, "lon", -180, 180)
    if (lat is None) != (lon is None):
        raise bad_param("lon" if lon is None else "lat", "经纬度须同时给出或都不给",
                        "give both lat and lon, or neither")
    accuracy = _number(body, "accuracy_m", 0, MAX_ACCURACY_M)
    return ScanInput(token.strip(), at.astimezone(UTC), lat, lon,
                     None if lat is None else accuracy)


# -- the round windows ----------------------------------------------------------------------


def window_span(plan: PatrolPlan, points: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """(seconds before, seconds after) a scheduled start that its round's window spans."""
    tolerances = plan.tolerances or {}
    after = max((int(p.get("offset_s", 0))
                 + int(tolerances.get(str(p.get("checkpoint")), plan.tolerance_s))
                 for p in points), default=plan.tolerance_s) + plan.late_s
    return plan.start_window_s, after


def in_window(plan: PatrolPlan, points: Sequence[dict[str, Any]], tz: ZoneInfo,
              at: datetime) -> bool:
    """Whether a round of ``plan`` has ``at`` inside its window."""
    before, after = window_span(plan, points)
    starts = scheduled_starts(plan_entry(plan), tz, at - timedelta(seconds=after),
                              at + timedelta(seconds=before, microseconds=1))
    return any(s - timedelta(seconds=before) <= at <= s + timedelta(seconds=after)
               for s in starts)


async def outside_window(session: AsyncSession, site_id: int, checkpoint: str,
                         tz: ZoneInfo, at: datetime) -> bool:
    """No active plan of an active route holding ``checkpoint`` covers ``at``."""
    routes = {r.code: list(r.points or []) for r in (await session.scalars(
        select(PatrolRoute).where(PatrolRoute.site_id == site_id,
                                  PatrolRoute.active.is_(True)))).all()
              if any(p.get("checkpoint") == checkpoint for p in r.points or [])}
    if not routes:
        return True
    plans = (await session.scalars(select(PatrolPlan).where(
        PatrolPlan.site_id == site_id, PatrolPlan.active.is_(True),
        PatrolPlan.route.in_(sorted(routes))))).all()
    return not any(in_window(p, routes[p.route], tz, at) for p in plans)


def flags(sticker_n: int, current_n: int, outside: bool, phone_time: datetime,
          now: datetime) -> list[str]:
    """The flags of a scan, in ``FLAGS`` order."""
    raised = {"old_sticker": sticker_n < current_n, "outside_window": outside,
              "clock_skew": abs((phone_time - now).total_seconds()) > SKEW_S}
    return [f for f in FLAGS if raised[f]]


async def guard_login(session: AsyncSession, actor: Actor) -> str:
    """The login name a scan is recorded under (the name patrol tags name guards by): a staff
    user's username, else the actor's name (an API token)."""
    kind, _, ident = actor.ref.partition(":")
    if kind == "user" and ident.isdigit():
        user = await session.get(StaffUser, int(ident))
        if user is not None:
            return user.username
    return actor.name[:64]


async def display_names(session: AsyncSession, logins: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(logins))
    if not wanted:
        return {}
    rows = await session.execute(select(StaffUser.username, StaffUser.display_name).where(
        StaffUser.username.in_(wanted)))
    return {u: d or u for u, d in rows.all()}
