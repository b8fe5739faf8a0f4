"""The wall screen's kiosk: ``POST /api/cockpit/kiosk`` turns a cockpit token into a cookie.

The kiosk page (``/cockpit/kiosk#token=cy_…``) sends the token once as ``Authorization:
Bearer``; only a token of role ``cockpit`` (``cockpit.read`` and nothing else, scoped to its
sites) gets the ``cy_kiosk`` cookie back: HttpOnly (no script reads it), SameSite=Strict (no
other site's page sends it), Path=/, Secure on https, for a year. Any other token — an
administrator's, a lead's — is refused (403 naming ``authorization``): a wall screen must
never hold a token that can do more than read the cockpit.

The auth middleware (``cloud.auth.middleware``) resolves the cookie like the token, looked up
on every request (a revocation ends the kiosk at its next request), refuses every unsafe
method with it and a WebSocket opened from another origin. ``DELETE`` clears the cookie.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from sqlalchemy import select

from cloud.auth.audit import actor_of
from cloud.auth.config import AUTH
from cloud.auth.guard import PUBLIC, SIGNED_IN, requires
from cloud.auth.middleware import KIOSK_COOKIE, KIOSK_ROLE
from cloud.db.models import Site
from cloud.web.errors import ApiError
from cloud.web.keys import SESSIONS
from cloud.web.respond import json_ok

log = structlog.get_logger(__name__)

PATH = "/api/cockpit/kiosk"
MAX_AGE_S = 365 * 24 * 3600
#: Where the kiosk page goes once the cookie is set.
LANDING = "/cockpit"


def _refused() -> ApiError:
    return ApiError(403, "not_a_kiosk_token",
                    "只有“大屏”角色的 API 令牌可以用于大屏（Authorization: Bearer）",
                    "only an API token of role cockpit (wall screen) may open a kiosk "
                    "(Authorization: Bearer)", field="authorization")


@requires(SIGNED_IN)
async def open_kiosk(request: web.Request) -> web.Response:
    """Set the kiosk cookie to the Bearer token of this request (role ``cockpit`` only)."""
    scheme, _, secret = request.headers.get("Authorization", "").strip().partition(" ")
    actor = actor_of(request)
    if scheme.lower() != "bearer" or actor.role != KIOSK_ROLE or not actor.ref.startswith(
            "token:"):
        log.info("cockpit_kiosk.refused", actor=actor.ref, role=actor.role)
        raise _refused()
    async with request.app[SESSIONS]() as session:
        query = select(Site.slug).order_by(Site.slug)
        if actor.sites is not None:
            query = query.where(Site.id.in_(sorted(actor.sites)))
        sites = list((await session.scalars(query)).all())
    resp = json_ok({"kiosk": True, "token": actor.name, "sites": sites, "next": LANDING})
    resp.set_cookie(KIOSK_COOKIE, secret.strip(), httponly=True, samesite="Strict", path="/",
                    secure=request.secure or request.app[AUTH].cookie_secure,
                    max_age=MAX_AGE_S)
    log.info("cockpit_kiosk.opened", actor=actor.ref, sites=len(sites))
    return resp


@requires(PUBLIC)
async def close_kiosk(request: web.Request) -> web.Response:
    """Clear the kiosk cookie (the token stays valid: revoke it to end every screen)."""
    resp = json_ok({"kiosk": False})
    resp.del_cookie(KIOSK_COOKIE, path="/")
    return resp


def add_kiosk_routes(app: web.Application) -> None:
    app.router.add_post(PATH, open_kiosk, name="cockpit_kiosk_open")
    app.router.add_delete(PATH, close_kiosk, name="cockpit_kiosk_close")
