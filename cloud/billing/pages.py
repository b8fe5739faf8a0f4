"""The bill-run page (``/billing/runs``): a site's runs with their progress, a form to start
or resume one, and the held bills waiting for review with a release button.

Server-rendered from the database (the table is there without JavaScript); the small script
in ``dashboards/billing`` starts runs, polls their progress and releases held bills through
the billing API. No CDN, the console's strict Content-Security-Policy.
"""

from __future__ import annotations

from html import escape

from aiohttp import web
from sqlalchemy import select

from cloud.auth.audit import actor_of
from cloud.auth.guard import requires
from cloud.billing.tables import Bill, BillRun
from cloud.db.models import Site
from cloud.records.tables import Unit
from cloud.web.keys import SESSIONS
from cloud.web.pages import PageSet, html_response
from cloud.web.params import text_param

BILLING = PageSet("billing", "页面文件缺失 / bill-run page files are missing")
STATE_ZH = {"running": "进行中", "done": "已完成", "failed": "失败"}


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


@requires("billing.read")
async def runs_page(request: web.Request) -> web.Response:
    """``/billing/runs?site=<slug>``."""
    slug = text_param(request, "site", 63)
    actor = actor_of(request)
    async with request.app[SESSIONS]() as session:
        sites = [s for s in (await session.execute(select(Site).order_by(Site.slug))).scalars()
                 if actor.may_see(s.id)]
        site = next((s for s in sites if s.slug == slug), sites[0] if sites else None)
        runs: list[BillRun] = []
        held: list[tuple[Bill, str]] = []
        if site is not None:
            runs = list((await session.execute(select(BillRun).where(
                BillRun.site_id == site.id).order_by(BillRun.id.desc()).limit(50))).scalars())
            held = [(b, u) for b, u in (await session.execute(
                select(Bill, Unit.code).join(Unit, Unit.id == Bill.unit_id).where(
                    Bill.site_id == site.id, Bill.state == "held")
                .order_by(Bill.id).limit(200))).all()]
    template = await BILLING.template("runs.html")
    options = "".join(f'<option value="{_e(s.slug)}"{" selected" if s is site else ""}>'
                      f"{_e(s.name or s.slug)} ({_e(s.slug)})</option>" for s in sites)
    run_rows = "".join(
        f'<tr data-run="{r.id}"><td>{r.id}</td><td>{_e(r.cycle)}</td><td>{_e(r.period)}</td>'
        f'<td class="state">{_e(STATE_ZH.get(r.state, r.state))} / {_e(r.state)}</td>'
        f'<td class="progress"><progress max="{max(r.units_total, 1)}" value="{r.units_done}">'
        f"</progress> {r.units_done}/{r.units_total}</td><td>{r.bills}</td><td>{r.held}</td>"
        f'<td class="num">{_e(r.total)}</td><td>{_e(r.error)}</td></tr>' for r in runs) or \
        '<tr><td colspan="9">尚无出账记录 / no bill runs yet</td></tr>'
    held_rows = "".join(
        f'<tr data-bill="{b.id}"><td>{_e(b.number)}</td><td>{_e(u)}</td><td>{_e(b.period)}</td>'
        f'<td class="num">{_e(b.total)}</td><td>'
        + "<br>".join(_e(r.get("message")) for r in (b.hold_reasons or []))
        + '</td><td><input class="note" maxlength="500" placeholder="复核说明 / note">'
          '<button type="button" class="release">放行 / Release</button></td></tr>'
        for b, u in held) or '<tr><td colspan="6">没有待复核的账单 / nothing held</td></tr>'
    html = (template.replace("__SITES__", options).replace("__RUNS__", run_rows)
            .replace("__HELD__", held_rows)
            .replace("__SITE__", _e(site.slug if site is not None else "")))
    return html_response(html)


@requires("billing.read")
async def billing_asset(request: web.Request) -> web.StreamResponse:
    return await BILLING.asset(request)


def add_billing_pages(app: web.Application) -> None:
    app.router.add_get("/billing/runs", runs_page, name="billing_runs_page")
    app.router.add_get("/billing/static/{name}", billing_asset, name="billing_asset")
