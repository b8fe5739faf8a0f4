"""``GET /api/sites/{site}/patrol/report`` and ``…/report.xlsx`` (``patrol.read``).

``?from=YYYY-MM-DD&to=YYYY-MM-DD`` are site-local dates, both included, at most
``MAX_DAYS`` apart (default: the last 7 days up to today); ``?by=guard|route|day``. The
figures and their definitions are ``cloud.patrol.report``'s; this module reads the rounds
of the period and names the groups (a guard by display name, a route by its name). The
workbook has the same rows with Chinese headers, written through ``cloud.web.tabular`` so a
name that looks like a formula stays text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final, cast

from aiohttp import web

from cloud.auth.guard import requires
from cloud.patrol import report as rp
from cloud.patrol.report_facts import facts
from cloud.patrol.scan import display_names
from cloud.web.errors import bad_param
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.present import site_zone
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok
from cloud.web.tabular import attachment, write_table

PREFIX: Final = "/api/sites/{site}/patrol"
MAX_DAYS: Final = 92
DEFAULT_DAYS: Final = 7
GROUP_ZH: Final = {"guard": ("保安账号", "保安"), "route": ("路线编号", "路线"),
                   "day": ("日期", "星期")}
HEADERS_ZH: Final = ("应巡轮次", "完成", "未完成", "漏巡", "完成率(%)", "应到巡更点",
                     "准时", "迟到", "漏检", "准时率(%)")
NO_GUARD_LABEL: Final = "（未开始，无保安）/ not started, no guard"


@dataclass(frozen=True, slots=True)
class Report:
    site: str
    timezone: str
    start: date
    end: date
    by: rp.By
    rows: list[rp.ReportRow]
    total: rp.ReportRow

    def json(self) -> dict[str, Any]:
        return {"site": self.site, "timezone": self.timezone, "from": self.start.isoformat(),
                "to": self.end.isoformat(), "by": self.by,
                "rows": [r.json() for r in self.rows], "totals": self.total.json()}


def _day(request: web.Request, name: str) -> date | None:
    raw = (request.query.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise bad_param(name, f"须为日期 YYYY-MM-DD，收到 {raw[:40]!r}",
                    f"must be a date YYYY-MM-DD, got {raw[:40]!r}")


def period(request: web.Request, today: date) -> tuple[date, date, rp.By]:
    """The report's dates and grouping from the query, each refusal naming its parameter."""
    by = request.query.get("by") or "day"
    if by not in rp.BY_VALUES:
        raise bad_param("by", "须为 guard、route 或 day", "must be guard, route or day")
    end = _day(request, "to") or today
    start = _day(request, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise bad_param("to", "结束日期不能早于开始日期", "must not be before from")
    if (end - start).days + 1 > MAX_DAYS:
        raise bad_param("to", f"一次最多 {MAX_DAYS} 天", f"at most {MAX_DAYS} days at a time")
    return start, end, cast(rp.By, by)


async def build(request: web.Request) -> Report:
    slug = request.match_info["site"]
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, slug)
        tz = site_zone(request, site.timezone)
        start, end, by = period(request, request.app[CLOCK].now().astimezone(tz).date())
        rounds, route_names = await facts(session, site.id, start, end, tz)
        guards = await display_names(session, {r.guard for r in rounds if r.guard})

    def label(key: str) -> str:
        if by == "guard":
            return guards.get(key, key) if key else NO_GUARD_LABEL
        if by == "route":
            return route_names.get(key, key)
        return rp.day_label(date.fromisoformat(key))

    rows, total = rp.group(rounds, by, label)
    return Report(site.slug, tz.key, start, end, by, rows, total)


@requires("patrol.read")
async def report(request: web.Request) -> web.Response:
    """Completion and on-time rates per guard, route or day, with a totals row."""
    return json_ok((await build(request)).json())


@requires("patrol.read")
async def report_xlsx(request: web.Request) -> web.Response:
    """The same rows as a workbook (Chinese headers; names written inert)."""
    rep = await build(request)
    key_h, label_h = GROUP_ZH[rep.by]
    body = [[r.key, r.label, *r.values()] for r in rep.rows]
    body.append(["合计", "合计 / Total", *rep.total.values()])
    data = write_table([key_h, label_h, *HEADERS_ZH], body, "xlsx", sheet="巡更报表")
    return attachment(data, "xlsx", f"巡更报表_{rep.site}_{rep.start}_{rep.end}.xlsx")


def add_report_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/report", report, name="patrol_report")
    app.router.add_get(f"{PREFIX}/report.xlsx", report_xlsx, name="patrol_report_xlsx")
