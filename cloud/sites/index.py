"""The console's overview (the administrator's home): each site, its devices and readings.

Server-rendered inside the shell (zh-CN, English through the switch) so the facts show even
before any script runs; every value from the database is escaped, codes go through the label
table and times are the site's, to the minute.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from cloud.auth.guard import PUBLIC, requires
from cloud.auth.scope import scoped
from cloud.db.models import Device, Meter, Site
from cloud.web.keys import DEFAULT_TZ, SESSIONS
from cloud.web.labels import label
from cloud.web.pages import SHELL_HEAD, PageSet, html_response
from cloud.web.present import decimal_str, zone


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _state(online: bool, heard: bool = True) -> str:
    """在线 / 离线, or 未上报 for what never reported (a device is online until told
    otherwise, which must not read as a working device on an overview)."""
    if not heard:
        return '<span class="never" data-en="Never reported">未上报</span>'
    return ('<span class="on" data-en="Online">在线</span>' if online
            else '<span class="off" data-en="Offline">离线</span>')


def _heard(dev: Device) -> bool:
    return dev.last_seen_at is not None or dev.last_event_at is not None


def _values(meter: Meter | None) -> str:
    """Each last reading as ``电压 230.1 V``-style text through the label table."""
    if meter is None or not meter.last_values:
        return "—"
    return "<br>".join(
        f'<span data-en="{_e(label("reading", k, "en"))} {_e(decimal_str(v))}">'
        f"{_e(label('reading', k))} {_e(decimal_str(v))}</span>"
        for k, v in sorted(meter.last_values.items()))


def _when(ts: datetime | None, tz: ZoneInfo) -> str:
    """Site time to the minute (staff never read ISO stamps); — when never."""
    return "—" if ts is None else ts.astimezone(tz).strftime("%Y-%m-%d %H:%M")


_HEAD = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
         '<meta name="viewport" content="width=device-width, initial-scale=1">'
         '<meta name="courtyard-title-en" content="Overview">'
         f"<title>概览 · Courtyard</title>{SHELL_HEAD}"
         '<link rel="stylesheet" href="/overview/static/overview.css">'
         '<script src="/overview/static/overview.js" defer></script></head>'
         '<body data-site="all" data-crumbs="概览|Overview"><main class="overview">')


OVERVIEW = PageSet("overview", "概览页面文件缺失 / overview page files are missing")


@requires(PUBLIC)
async def overview_asset(request: web.Request) -> web.StreamResponse:
    return await OVERVIEW.asset(request)


@requires("devices.read")
async def index(request: web.Request) -> web.Response:
    """Every site of the login: online, last report and each device's state and readings."""
    default_tz = request.app[DEFAULT_TZ]
    async with request.app[SESSIONS]() as session:
        sites = (await session.execute(scoped(select(Site), Site.id, request)
                                       .order_by(Site.name))).scalars().all()
        rows = (await session.execute(scoped(
            select(Device, Meter).outerjoin(Meter, Meter.device_id == Device.id),
            Device.site_id, request).order_by(Device.site_id, Device.key))).all()
    by_site: dict[int, list[tuple[Device, Meter | None]]] = {}
    for dev, meter_or_none in rows:
        by_site.setdefault(dev.site_id, []).append((dev, meter_or_none))
    parts = [_HEAD, '<h1 data-en="Overview">概览</h1>']
    if not sites:
        parts.append('<p class="empty" data-en="No community has reported yet: start an edge box '
                     'with its site file (docs/operations.md).">还没有小区上报数据：按运维手册'
                     "启动现场边缘盒子。</p>")
    for site in sites:
        tz = zone(site.timezone or default_tz, default_tz)
        devices = by_site.get(site.id, [])
        heard = [d for d, _ in devices if _heard(d)]
        offline = sum(not d.online for d in heard)
        never = len(devices) - len(heard)
        parts += [
            f'<section class="site" data-site-slug="{_e(site.slug)}">',
            f"<h2>{_e(site.name or site.slug)} "
            f"{_state(site.online, site.last_batch_at is not None)}</h2>",
            '<p class="facts"><span data-en="Last report">最近上报</span> '
            f"{_e(_when(site.last_batch_at, tz))} · "
            f'<span data-en="Devices">设备</span> {len(devices)} · '
            f'<span data-en="Online">在线</span> {len(heard) - offline} · '
            f'<span data-en="Offline">离线</span> <b class="{"off" if offline else ""}">'
            f"{offline}</b> · "
            f'<span data-en="Never reported">未上报</span> {never}</p>',
            # A long list folds: the counts above are what a glance needs.
            f'<details{" open" if len(devices) <= 12 else ""}><summary>'
            f'<span data-en="All devices">全部设备</span> ({len(devices)})</summary>',
            '<table><thead><tr><th data-en="Device">设备</th><th data-en="State">状态</th>'
            '<th data-en="Last seen">最近上报</th><th data-en="Last readings">最近读数</th>'
            "</tr></thead><tbody>",
        ]
        for dev, meter in devices:
            kind = label("device_kind", dev.kind) if dev.kind else ""
            kind_en = label("device_kind", dev.kind, "en") if dev.kind else ""
            parts.append(
                f"<tr><td>{_e(dev.key)}<br><small data-en=\"{_e(kind_en)} {_e(dev.unit_ref or '')}"
                f'">{_e(kind)} {_e(dev.unit_ref or "")}</small></td>'
                f"<td>{_state(dev.online, _heard(dev))}</td>"
                f"<td>{_e(_when(dev.last_seen_at or dev.last_event_at, tz))}</td>"
                f"<td>{_values(meter)}</td></tr>")
        parts.append("</tbody></table></details></section>")
    parts.append("</main></body></html>")
    return html_response("".join(parts))
