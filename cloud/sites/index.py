"""The console's front page: sites, their backlog and each device's last readings.

Plain server-rendered HTML (zh-CN first, English second) so it works on a guard-room PC with
no internet and no JavaScript; every value from the database is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from cloud.auth.guard import requires
from cloud.auth.scope import scoped
from cloud.db.models import Device, Meter, Site
from cloud.web.keys import DEFAULT_TZ, SESSIONS
from cloud.web.present import decimal_str, local_iso, zone

_STYLE = """
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.on{color:#17803d}.off{color:#b42318}
small{color:#666}code{font-size:.9em}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _u(value: str) -> str:
    """A path or query component: URL-encoded, then HTML-escaped."""
    return escape(quote(value, safe=""), quote=True)


def _state(online: bool) -> str:
    return ('<span class="on">在线 online</span>' if online
            else '<span class="off">离线 offline</span>')


def _values(meter: Meter | None) -> str:
    if meter is None or not meter.last_values:
        return "—"
    return "<br>".join(f"{_e(k)} = {_e(decimal_str(v))}"
                       for k, v in sorted(meter.last_values.items()))


@requires("devices.read")
async def index(request: web.Request) -> web.Response:
    default_tz = request.app[DEFAULT_TZ]
    async with request.app[SESSIONS]() as session:
        sites = (await session.execute(scoped(select(Site), Site.id, request)
                                       .order_by(Site.slug))).scalars().all()
        rows = (await session.execute(scoped(
            select(Device, Meter).outerjoin(Meter, Meter.device_id == Device.id),
            Device.site_id, request).order_by(Device.site_id, Device.key))).all()
    by_site: dict[int, list[tuple[Device, Meter | None]]] = {}
    for dev, meter_or_none in rows:
        by_site.setdefault(dev.site_id, []).append((dev, meter_or_none))
    parts = [
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Courtyard 智慧社区控制台 / console</title><style>{_STYLE}</style></head><body>",
        "<h1>智慧社区控制台 <small>Courtyard console</small></h1>",
        '<p>接口 API: <a href="/api/sites">/api/sites</a> · '
        '<a href="/api/openapi.json">OpenAPI</a> · <a href="/healthz">/healthz</a></p>',
    ]
    if not sites:
        parts.append("<p>还没有站点上报数据 / no site has reported yet.</p>")
    for site in sites:
        tz = zone(site.timezone or default_tz, default_tz)
        slug, slug_u = _e(site.slug), _u(site.slug)
        parts += [
            f"<h2>{_e(site.name)} <small><code>{slug}</code></small> {_state(site.online)}</h2>",
            f"<p>已确认序号 acked seq: {_e(site.acked_seq)} · 最近批次 last batch: "
            f"{_e(local_iso(site.last_batch_at, tz) or '—')} <small>({_e(tz.key)})</small> · "
            f'<a href="/api/sites/{slug_u}/devices">设备 devices</a> · '
            f'<a href="/api/sites/{slug_u}/events">事件 events</a></p>',
            "<table><tr><th>设备 device</th><th>状态 state</th><th>最近上报 last seen</th>"
            "<th>最近读数 last readings</th><th>历史 history</th></tr>",
        ]
        for dev, meter in by_site.get(site.id, []):
            key = _e(dev.key)
            seen = local_iso(dev.last_seen_at or dev.last_event_at, tz)
            parts.append(
                f"<tr><td>{key}<br><small>{_e(dev.unit_ref or '')} {_e(dev.profile or '')}"
                f"</small></td><td>{_state(dev.online)}</td><td>{_e(seen or '—')}</td>"
                f"<td>{_values(meter)}</td><td><a href=\"/api/devices/{_u(dev.key)}"
                f'/readings?site={slug_u}">读数 readings</a></td></tr>')
        parts.append("</table>")
    parts.append("</body></html>")
    return web.Response(text="".join(parts), content_type="text/html", charset="utf-8")
