"""Patrol reports through the console API on SQLite and PostgreSQL: a scripted day whose
figures are computed by hand (per guard, per route, per day, and the totals), site-local day
boundaries, the refusals of each parameter, and the .xlsx with the same figures, Chinese
headers and a guard named like a formula written inert."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from cloud.db.models import Site
from cloud.patrol.report import RoundFact, group, rate
from cloud.patrol.tables import PatrolPlan, PatrolRound, PatrolRoute
from tests.support.two_sites import SITE_A, SITE_B, TwoSites, two_sites

R = f"/api/sites/{SITE_A}/patrol/report"
EVIL = '=HYPERLINK("http://evil.example","点击")'


def _points(*codes: str) -> list[dict[str, Any]]:
    return [{"checkpoint": c, "offset_s": 300 * i} for i, c in enumerate(codes)]


def _round(rid: str, local: str, status: str, guard: str | None, route: str | None,
           on_time: int = 0, late: int = 0, missed: int = 0, plan: str = "night-2h",
           site_id: int = 1) -> PatrolRound:
    at = datetime.fromisoformat(local).astimezone(UTC)
    return PatrolRound(site_id=site_id, round_id=rid, plan=plan, route=route, scheduled_at=at,
                       status=status, guard=guard, on_time=on_time, late=late, missed=missed,
                       out_of_order=0, missed_checkpoints={}, updated_at=at)


async def _site_id(w: TwoSites, slug: str) -> int:
    async with w.sessions() as s:
        return int((await s.scalars(select(Site.id).where(Site.slug == slug))).one())


async def _script_day(w: TwoSites, guards: tuple[str, str] = ("zhang", "li")) -> None:
    """Monday 2026-11-23 (Shanghai): route ``night`` (3 checkpoints) walked four times —
    zhang complete on time, li complete on time, zhang with one late and one missed checkpoint,
    and one round nobody started (its row names the plan only) — and route ``gate`` (2
    checkpoints) once by li with one late. One round of zhang's is still in progress just
    after midnight (Tuesday in site time, Monday in UTC); one round of Sunday and one of the
    other site are outside the report."""
    zhang, li = guards
    a, b = await _site_id(w, SITE_A), await _site_id(w, SITE_B)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    async with w.sessions() as s, s.begin():
        s.add_all([
            PatrolRoute(site_id=a, code="night", name="夜间外围", ordered=True,
                        points=_points("cp-1", "cp-2", "cp-3"), active=True, updated_at=at),
            PatrolRoute(site_id=a, code="gate", name="大门", ordered=False,
                        points=_points("cp-g1", "cp-g2"), active=True, updated_at=at),
            PatrolPlan(site_id=a, code="night-2h", name="夜班", route="night",
                       days=[1, 2, 3, 4, 5, 6, 7], start_time="00:00:00",
                       end_time="00:00:00", every_s=7200, start_window_s=600,
                       tolerance_s=120, late_s=300, tolerances={}, escalate_s=600,
                       active=True, updated_at=at),
            _round("r1", "2026-11-23T07:30:00+08:00", "completed", zhang, "night", 3,
                   site_id=a),
            _round("r2", "2026-11-23T10:00:00+08:00", "completed", li, "night", 3, site_id=a),
            _round("r3", "2026-11-23T12:00:00+08:00", "incomplete", zhang, "night", 1, 1, 1,
                   site_id=a),
            _round("r4", "2026-11-23T14:00:00+08:00", "missed", None, None, site_id=a),
            _round("r5", "2026-11-23T15:00:00+08:00", "completed", li, "gate", 1, 1,
                   plan="gate-1", site_id=a),
            _round("r6", "2026-11-24T00:30:00+08:00", "started", zhang, "night", 1, site_id=a),
            _round("r0", "2026-11-22T23:59:00+08:00", "completed", zhang, "night", 3,
                   site_id=a),
            _round("rb", "2026-11-23T10:00:00+08:00", "missed", None, "night", site_id=b)])


def _figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["rounds_planned"], row["rounds_completed"], row["rounds_incomplete"],
            row["rounds_missed"], row["completion_rate"], row["checkpoints_due"],
            row["on_time"], row["late"], row["missed"], row["on_time_rate"])


async def test_a_scripted_day_gives_the_rates_computed_by_hand(db_url: str) -> None:
    async with two_sites(db_url) as w:
        await w.staff("zhang", "guard", [SITE_A], name="张保安")
        await w.staff("li", "guard", [SITE_A], name="李保安")
        lead = await w.staff("chen", "operations_lead", [SITE_A])
        await _script_day(w)
        q = "from=2026-11-23&to=2026-11-24"

        by_guard = await lead.call("GET", f"{R}?{q}&by=guard")
        assert [(r["key"], r["label"]) for r in by_guard["rows"]] == [
            ("", "（未开始，无保安）/ not started, no guard"), ("li", "李保安"),
            ("zhang", "张保安")]
        assert [_figures(r) for r in by_guard["rows"]] == [
            (1, 0, 0, 1, "0.00", 3, 0, 0, 3, "0.00"),  # the round nobody started: 3 missed
            (2, 2, 0, 0, "100.00", 5, 4, 1, 0, "80.00"),
            (3, 1, 1, 0, "33.33", 6, 4, 1, 1, "66.67")]  # the round in progress: planned only
        assert _figures(by_guard["totals"]) == (6, 3, 1, 1, "50.00", 14, 8, 2, 4, "57.14")
        assert by_guard["totals"]["key"] == "total"

        by_route = await lead.call("GET", f"{R}?{q}&by=route")
        assert [(r["key"], r["label"], _figures(r)) for r in by_route["rows"]] == [
            ("gate", "大门", (1, 1, 0, 0, "100.00", 2, 1, 1, 0, "50.00")),
            # r4 names no route: its plan's route, all three checkpoints missed
            ("night", "夜间外围", (5, 2, 1, 1, "40.00", 12, 7, 1, 4, "58.33"))]

        by_day = await lead.call("GET", f"{R}?{q}&by=day")
        assert [(r["key"], r["label"], _figures(r)) for r in by_day["rows"]] == [
            ("2026-11-23", "2026-11-23 周一", (5, 3, 1, 1, "60.00", 14, 8, 2, 4, "57.14")),
            # 00:30 Tuesday in Shanghai is Monday 16:30 UTC: it belongs to Tuesday
            ("2026-11-24", "2026-11-24 周二", (1, 0, 0, 0, "0.00", 0, 0, 0, 0, None))]
        assert _figures(by_day["totals"]) == _figures(by_guard["totals"])

        monday = await lead.call("GET", f"{R}?from=2026-11-23&to=2026-11-23&by=day")
        assert [r["key"] for r in monday["rows"]] == ["2026-11-23"]
        default = await lead.call("GET", R)  # the last 7 days to today (Monday) by day
        assert (default["from"], default["to"], default["by"]) == (
            "2026-11-17", "2026-11-23", "day")
        assert [r["key"] for r in default["rows"]] == ["2026-11-22", "2026-11-23"]


async def test_parameters_are_refused_by_name_and_roles_and_sites_are_kept(
        sqlite_url: str) -> None:
    async with two_sites(sqlite_url) as w:
        guard = await w.staff("zhang", "guard", [SITE_A])
        for query, field in (("by=shift", "by"), ("from=2026-13-01", "from"),
                             ("to=23/11/2026", "to"), ("from=2026-11-23&to=2026-11-22", "to"),
                             ("from=2026-01-01&to=2026-04-03", "to")):
            err = await guard.call("GET", f"{R}?{query}", 400)
            assert err["error"]["field"] == field, query
        await guard.call("GET", f"{R}?from=2026-01-01&to=2026-04-02")  # 92 days: the most
        tech = await w.staff("liu", "technician", [SITE_A])
        await tech.call("GET", R, 403)
        await tech.call("GET", f"{R}.xlsx", 403)
        await guard.call("GET", f"/api/sites/{SITE_B}/patrol/report", (403, 404))
        await guard.call("GET", f"/api/sites/{SITE_B}/patrol/report.xlsx", (403, 404))


async def test_the_workbook_holds_the_same_figures_and_an_evil_name_stays_text(
        db_url: str) -> None:
    async with two_sites(db_url) as w:
        lead = await w.staff("chen", "operations_lead", [SITE_A])
        await _script_day(w, guards=(EVIL, "li"))
        q = "from=2026-11-23&to=2026-11-24&by=guard"
        rows = await lead.call("GET", f"{R}?{q}")
        async with lead.http.get(f"{R}.xlsx?{q}", headers=lead.headers) as resp:
            assert resp.status == 200
            assert resp.content_type.endswith("spreadsheetml.sheet")
            assert "attachment" in resp.headers["Content-Disposition"]
            data = await resp.read()
        ws = load_workbook(io.BytesIO(data)).active
        assert ws is not None
        cells = list(ws.iter_rows())
        assert [c.value for c in cells[0]] == [
            "保安账号", "保安", "应巡轮次", "完成", "未完成", "漏巡", "完成率(%)", "应到巡更点",
            "准时", "迟到", "漏检", "准时率(%)"]
        body = [[c.value for c in row] for row in cells[1:]]
        want = [*rows["rows"], {**rows["totals"], "key": "合计", "label": "合计 / Total"}]
        assert len(body) == len(want)
        for got, row in zip(body, want, strict=True):
            assert [got[0] or "", got[1]] == [row["key"], row["label"]]  # "" reads back None
            for value, expected in zip(got[2:], _figures(row), strict=True):
                if expected is None:
                    assert value in (None, "")
                elif isinstance(expected, str):
                    assert Decimal(str(value)) == Decimal(expected)
                else:
                    assert value == expected
        evil = [c for row in cells[1:] for c in row[:2] if c.value == EVIL]
        assert len(evil) == 2  # the key and, with no staff account of that name, the label
        assert all(c.data_type == "s" and c.quotePrefix for c in evil)


def test_rates_round_half_up_and_nothing_planned_has_no_rate() -> None:
    assert rate(1, 3) == Decimal("33.33") and rate(2, 3) == Decimal("66.67")
    assert rate(1, 8) == Decimal("12.50") and rate(0, 0) is None
    day = datetime(2026, 11, 23).date()
    rows, total = group([RoundFact(day, "night", "a", "started", 1, 0, 0, 3)], "guard",
                        lambda k: k)
    assert rows[0].json()["completion_rate"] == "0.00"
    assert rows[0].json()["on_time_rate"] is None and total.tally.checkpoints_due == 0
