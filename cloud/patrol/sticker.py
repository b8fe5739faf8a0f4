"""QR checkpoint stickers (``patrol.write``): the printable SVG and reissuing.

- ``GET …/patrol/checkpoints/{code}/sticker.svg``: a QR code of
  ``<console origin>/m/patrol?t=<token>`` (``contract.patrol.sign_sticker`` with the
  checkpoint's current serial ``sticker_n``) with the checkpoint's name under it, sized for a
  60 mm label. Scanned with any phone camera it opens the console's scan page.
- ``POST …/patrol/checkpoints/{code}/sticker``: a new sticker, ``sticker_n`` + 1 (audited); a
  scan of an older one is still recorded but flagged ``old_sticker`` (a photographed sticker
  scanned away from its post is what reissuing is for).

Stickers are signed with the site's secret, the same credential visitor passes are signed
with (``COURTYARD_SITE_CREDENTIALS``, ``SITE_CREDENTIALS``) under the sticker's own key label;
a site without one cannot sign: 409 naming ``site``. The dataset does not carry the serial
(the console checks scans), so reissuing bumps no dataset version.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any, Final
from urllib.parse import quote

import segno
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import actor_of, record
from cloud.auth.guard import requires
from cloud.db.models import Site
from cloud.patrol.tables import PatrolCheckpoint
from cloud.web.errors import ApiError, not_found
from cloud.web.keys import CLOCK, SESSIONS, SITE_CREDENTIALS
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok
from contract.patrol import Sticker, sign_sticker

PREFIX: Final = "/api/sites/{site}/patrol/checkpoints/{code}"
SCAN_PAGE: Final = "/m/patrol"
CODE_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
SCALE: Final = 5
LABEL_H: Final = 70  # px under the code for the name, the code and the serial


def site_secret(request: web.Request, slug: str) -> str:
    """The site's signing secret; 409 when the console has none for it."""
    secret = (request.app.get(SITE_CREDENTIALS) or {}).get(slug)
    if not secret:
        raise ApiError(409, "conflict",
                       "该小区未配置站点密钥，无法签发巡更点二维码（请先配置边缘网关凭据）",
                       "this site has no secret configured: checkpoint stickers cannot be "
                       "signed (configure the edge's site credential first)", field="site")
    return str(secret)


def sticker_url(origin: str, token: str) -> str:
    """What the QR code holds: the scan page with the signed token."""
    return f"{origin}{SCAN_PAGE}?t={quote(token, safe='')}"


def render(url: str, name: str, code: str, n: int) -> bytes:
    """A printable SVG: the QR code, then the checkpoint's name, code and serial under it."""
    qr = segno.make(url, error="m", micro=False)
    side, _ = qr.symbol_size(scale=SCALE, border=4)
    inner = qr.svg_inline(scale=SCALE, border=4, omitsize=False)
    inner = inner.replace("<svg ", '<svg x="0" y="0" ', 1)
    width, height = side, side + LABEL_H
    mid = side // 2
    lines = [
        f'<text x="{mid}" y="{side + 22}" font-size="20" font-weight="bold">{escape(name)}</text>',
        f'<text x="{mid}" y="{side + 46}" font-size="14">巡更点 / Checkpoint {escape(code)}</text>',
        f'<text x="{mid}" y="{side + 64}" font-size="11" fill="#555">第 {n} 版 / sticker '
        f'#{n}</text>',
    ]
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="60mm" '
           f'height="{60 * height / width:.1f}mm" viewBox="0 0 {width} {height}">'
           f'<title>巡更点二维码 / checkpoint sticker {escape(code)}</title>'
           f'<rect width="{width}" height="{height}" fill="#fff"/>{inner}'
           f'<g text-anchor="middle" font-family="sans-serif">{"".join(lines)}</g></svg>')
    return svg.encode("utf-8")


def _code(request: web.Request) -> str:
    raw = request.match_info["code"]
    if not CODE_RE.fullmatch(raw):
        raise not_found("code", "巡更点", "checkpoint", raw[:40])
    return raw


async def checkpoint(session: AsyncSession, site: Site, code: str) -> PatrolCheckpoint:
    """The site's QR checkpoint ``code``; 404 when there is none, 409 when it has no sticker."""
    cp = (await session.scalars(select(PatrolCheckpoint).where(
        PatrolCheckpoint.site_id == site.id, PatrolCheckpoint.code == code))).one_or_none()
    if cp is None:
        raise not_found("code", "巡更点", "checkpoint", code)
    if not cp.qr or not cp.active:
        raise ApiError(409, "conflict", "该巡更点未启用或不使用二维码，不能打印贴纸",
                       "this checkpoint is inactive or not a QR checkpoint: no sticker",
                       field="code")
    return cp


@requires("patrol.write")
async def sticker_svg(request: web.Request) -> web.Response:
    """The checkpoint's current sticker, ready to print."""
    code = _code(request)
    slug = request.match_info["site"]
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, slug)
        cp = await checkpoint(session, site, code)
        name, n = cp.name, cp.sticker_n
    token = sign_sticker(site_secret(request, slug), Sticker(site.slug, code, n))
    body = render(sticker_url(str(request.url.origin()), token), name, code, n)
    return web.Response(body=body, content_type="image/svg+xml",
                        headers={"Cache-Control": "no-store"})


@requires("patrol.write")
async def reissue(request: web.Request) -> web.Response:
    """A new sticker: the serial goes up by one and scans of the old one are flagged."""
    code = _code(request)
    slug = request.match_info["site"]
    site_secret(request, slug)  # no sticker can be printed without it: refuse first
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        site = await site_by_slug(session, slug)
        cp = await checkpoint(session, site, code)
        before = cp.sticker_n
        cp.sticker_n, cp.updated_at = before + 1, now
        record(session, at=now, actor=actor_of(request), action="reissue_sticker",
               entity="patrol_checkpoint", entity_id=cp.id, site_id=site.id,
               before={"sticker_n": before}, after={"sticker_n": cp.sticker_n})
        out: dict[str, Any] = {"code": cp.code, "name": cp.name, "sticker_n": cp.sticker_n,
                               "sticker": f"/api/sites/{site.slug}/patrol/checkpoints/"
                                          f"{cp.code}/sticker.svg"}
    return json_ok(out)


def add_sticker_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/sticker.svg", sticker_svg, name="patrol_sticker_svg")
    app.router.add_post(f"{PREFIX}/sticker", reissue, name="patrol_sticker_reissue")
