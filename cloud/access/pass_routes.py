"""Visitor passes under ``/api/sites/{site}/access/passes`` (permission ``access.passes``).

- ``POST …/passes`` ``{visitor_name, unit, valid_from?, valid_to, doors, uses}`` → 201 with
  ``id``, ``token``, ``code`` and ``qr`` (the image's path); refusals name the field.
- ``GET …/passes?state=active|revoked|expired``: newest first, times in UTC and site time.
- ``GET …/passes/{id}/qr.svg``: the QR code of the token, signed again from the stored claims.
- ``POST …/passes/{id}/revoke`` ``{reason}``: the id goes on the dataset's ``passes_revoked``.

Issuing and revoking bump the site's ``access`` version in their transaction and are audited
(``routes.versioned_write``). A site whose secret the console does not know cannot sign: 409.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import segno
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access import passes as ps
from cloud.access import service as svc
from cloud.access.routes import MAX_ID, PREFIX, api_error, versioned_write
from cloud.access.tables import AccessPass
from cloud.auth.audit import actor_of, record, snapshot
from cloud.auth.guard import requires
from cloud.db.models import Site
from cloud.web.body import json_object, text_field
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS, SITE_CREDENTIALS
from cloud.web.params import text_param
from cloud.web.present import site_zone, times, zone
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok

PERMISSION = "access.passes"
STATES = ("active", "revoked", "expired")


def _secret(request: web.Request) -> str:
    slug = request.match_info["site"]
    secret = (request.app.get(SITE_CREDENTIALS) or {}).get(slug)
    if not secret:
        raise ApiError(409, "conflict",
                       "该小区未配置站点密钥，无法签发访客通行证（请先配置边缘网关凭据）",
                       "this site has no secret configured: visitor passes cannot be signed "
                       "(configure the edge's site credential first)", field="site")
    return str(secret)


def qr_path(site: str, pass_id: int) -> str:
    return f"/api/sites/{site}/access/passes/{pass_id}/qr.svg"


def pass_json(p: AccessPass, unit: str, site: Site, now: datetime) -> dict[str, Any]:
    tz = zone(site.timezone or "")
    return {"id": p.id, "code": p.code, "visitor_name": p.visitor_name, "unit": unit,
            "doors": list(p.doors), "uses": p.uses, "used": p.used,
            "uses_left": max(p.uses - p.used, 0), "state": ps.state_of(p, now),
            "issued_by": p.issued_by, "revoked_reason": p.revoked_reason,
            "qr": qr_path(site.slug, p.id),
            **times("valid_from", p.valid_from, tz), **times("valid_to", p.valid_to, tz),
            **times("created_at", p.created_at, tz), **times("revoked_at", p.revoked_at, tz),
            **times("last_used_at", p.last_used_at, tz)}


@requires(PERMISSION)
async def issue_pass(request: web.Request) -> web.Response:
    """Issue a pass for a visitor of one of the site's units; 201 with the token and code."""
    secret = _secret(request)
    body = await json_object(request, allowed=ps.FIELDS)
    actor = actor_of(request)

    async def op(session: AsyncSession, site: Site, now: datetime
                 ) -> tuple[AccessPass, str, str]:
        name = ps.visitor_name(body.get("visitor_name"))
        unit = await ps.unit_of(session, site.id, body.get("unit"))
        start, end = ps.window(body, site_zone(request, site.timezone), now)
        door_list = ps.pass_doors(body.get("doors"))
        count = ps.uses(body.get("uses"))
        p = AccessPass(site_id=site.id, code=await ps.new_code(session, site.id, now),
                       visitor_name=name, unit_id=unit.id, doors=door_list, valid_from=start,
                       valid_to=end, uses=count, used=0, state="active",
                       issued_by=(actor.name or actor.ref)[:128], created_at=now)
        session.add(p)
        await session.flush()
        try:
            signed = ps.token(p, site.slug, secret)
        except ValueError:
            raise svc.Invalid("doors", "门太多或门标识太长，二维码放不下，请少选几个门",
                              "too many or too long door keys for a QR code: name fewer "
                              "doors") from None
        record(session, at=now, actor=actor, action="create", entity="access_pass",
               entity_id=p.id, site_id=site.id, after=snapshot(p, ps.AUDITED))
        return p, unit.code, signed

    (p, unit, signed), version = await versioned_write(request, op)
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, request.match_info["site"])
    out = pass_json(p, unit, site, request.app[CLOCK].now())
    return json_ok({**out, "token": signed, "version": version}, status=201)


def _pass_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", "访客通行证", "visitor pass", raw[:40])
    return int(raw)


async def _found(session: AsyncSession, site: Site, pass_id: int) -> AccessPass:
    p = await session.get(AccessPass, pass_id)
    if p is None or p.site_id != site.id:
        raise svc.Invalid("id", f"访客通行证不存在：{pass_id}", f"no such visitor pass: {pass_id}",
                          status=404, code="not_found")
    return p


@requires(PERMISSION)
async def revoke_pass(request: web.Request) -> web.Response:
    """Revoke a pass (``reason`` required); the edge refuses it once the dataset arrives."""
    pass_id = _pass_id(request)
    body = await json_object(request, allowed=("reason",))
    reason = text_field(body, "reason", 200) or ""

    async def op(session: AsyncSession, site: Site, now: datetime
                 ) -> tuple[AccessPass, str, Site]:
        p = await _found(session, site, pass_id)
        if p.state != "active":
            raise svc.Invalid("id", "该通行证已作废", "this pass is already revoked", status=409,
                              code="conflict")
        before = snapshot(p, ps.AUDITED)
        p.state, p.revoked_reason, p.revoked_at = "revoked", reason, now
        record(session, at=now, actor=actor_of(request), action="revoke",
               entity="access_pass", entity_id=p.id, site_id=site.id, before=before,
               after=snapshot(p, ps.AUDITED))
        unit = await session.get(ps.Unit, p.unit_id)
        return p, unit.code if unit is not None else "", site

    (p, unit, site), version = await versioned_write(request, op)
    return json_ok({**pass_json(p, unit, site, request.app[CLOCK].now()), "version": version})


@requires(PERMISSION)
async def list_passes(request: web.Request) -> web.Response:
    """The site's passes, newest first (``?state=active|revoked|expired``)."""
    state = text_param(request, "state", 16)
    if state is not None and state not in STATES:
        raise bad_param("state", "须为 active、revoked 或 expired",
                        "must be active, revoked or expired")
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, request.match_info["site"])
        rows = await ps.listed(session, site.id, state, now)
    return json_ok({"site": site.slug, "passes": [pass_json(p, u, site, now) for p, u in rows]})


@requires(PERMISSION)
async def pass_qr(request: web.Request) -> web.Response:
    """The pass's QR code (SVG); not cached anywhere: it opens doors."""
    pass_id = _pass_id(request)
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, request.match_info["site"])
        try:
            p = await _found(session, site, pass_id)
        except svc.Invalid as err:
            raise api_error(err) from None
    secret = _secret(request)
    buf = io.BytesIO()
    segno.make(ps.token(p, site.slug, secret), error="m", micro=False).save(
        buf, kind="svg", scale=6, border=4, title=f"访客通行证 / visitor pass {p.id}")
    return web.Response(body=buf.getvalue(), content_type="image/svg+xml",
                        headers={"Cache-Control": "no-store"})


def add_pass_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/passes", list_passes, name="access_passes")
    r.add_post(f"{PREFIX}/passes", issue_pass)
    r.add_get(f"{PREFIX}/passes/{{id}}/qr.svg", pass_qr, name="access_pass_qr")
    r.add_post(f"{PREFIX}/passes/{{id}}/revoke", revoke_pass, name="access_pass_revoke")
