"""``GET /api/sites/{site}/access/dataset``: the edge pulls the site's access dataset with HTTP
Basic (the site's slug and its MQTT secret, ``COURTYARD_SITE_CREDENTIALS``) and an ETag, so
an unchanged version costs a 304. Public to the staff guard: it checks the site secret itself,
in constant time, with the same limits as parking's pull (pulls per site and address, failed
guesses per address, each refusal delayed) so guessing the MQTT secret here is no cheaper.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from cloud.access.service import document
from cloud.access.tables import ACCESS_DATASET
from cloud.auth.ratelimit import SlidingWindow
from cloud.db.models import Site
from cloud.parking.dataset import current_version
from cloud.web.errors import ApiError, json_error
from cloud.web.keys import CLOCK, SESSIONS, SITE_CREDENTIALS
from cloud.web.respond import dumps
from contract.datasets import etag

FAIL_DELAY = 0.2
PULLS = web.AppKey("courtyard.access.pulls", SlidingWindow)
FAILS = web.AppKey("courtyard.access.pull_failures", SlidingWindow)


def install_limits(app: web.Application) -> None:
    app[PULLS] = SlidingWindow(10, timedelta(seconds=2))
    app[FAILS] = SlidingWindow(10, timedelta(minutes=5))


def _refused(slug: str, status: int, code: str, zh: str, en: str) -> web.Response:
    resp = json_error(ApiError(status, code, zh, en, field="authorization"))
    if status == 401:
        resp.headers["WWW-Authenticate"] = f'Basic realm="courtyard site {slug}", charset="UTF-8"'
    return resp


def _credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise ValueError("not Basic")
    login, sep, password = base64.b64decode(encoded.strip(), validate=True).decode(
        "utf-8").partition(":")
    if not sep:
        raise ValueError("no colon")
    return login, password


async def access_dataset(request: web.Request) -> web.StreamResponse:
    """The site's access dataset for its edge: HTTP Basic (slug, site secret), ETag, 304."""
    slug = request.match_info["site"]
    secret = (request.app.get(SITE_CREDENTIALS) or {}).get(slug)
    if secret is None:
        raise ApiError(403, "site_not_configured",
                       f"小区 {slug} 没有凭据：COURTYARD_SITE_CREDENTIALS 须包含它（小区:密码）",
                       f"site {slug} has no credential: COURTYARD_SITE_CREDENTIALS must name "
                       "it (site:secret)", field="site")
    now, remote = request.app[CLOCK].now(), (request.remote or "unknown")[:64]
    wait = max(request.app[FAILS].retry_after(remote, now),
               request.app[PULLS].retry_after(f"{slug}|{remote}", now))
    if wait:
        resp = json_error(ApiError(429, "too_many_requests", f"请求过于频繁，请 {wait} 秒后再试",
                                   f"too many requests; try again in {wait} s", field=None))
        resp.headers["Retry-After"] = str(wait)
        return resp
    request.app[PULLS].hit(f"{slug}|{remote}", now)
    header = request.headers.get("Authorization")
    if not header:
        return _refused(slug, 401, "unauthorized", "需要小区凭据（HTTP Basic：小区标识与小区密码）",
                        "site credential required (HTTP Basic: site slug and secret)")
    try:
        login, password = _credentials(header)
        ok = hmac.compare_digest(login.encode(), slug.encode()) & hmac.compare_digest(
            password.encode(), secret.encode())
    except ValueError:
        ok = False
    if not ok:
        request.app[FAILS].hit(remote, now)
        await asyncio.sleep(FAIL_DELAY)
        return _refused(slug, 401, "unauthorized", "小区标识或密码错误",
                        "wrong site slug or secret")
    async with request.app[SESSIONS]() as session:
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
        version = 0 if site is None else await current_version(session, site.id, ACCESS_DATASET)
        tag = etag(ACCESS_DATASET, version)
        headers = {"ETag": tag, "Cache-Control": "no-cache"}
        match = request.headers.get("If-None-Match") or ""
        if any(p.strip().removeprefix("W/") in (tag, "*") for p in match.split(",") if p):
            return web.Response(status=304, headers=headers)
        doc = ({"version": 0, "time_profiles": {}, "cards": {}, "blocked": []}
               if site is None else await document(session, site.id))
    headers["ETag"] = etag(ACCESS_DATASET, doc["version"])
    resp = web.Response(body=dumps(doc).encode(), content_type="application/json",
                        charset="utf-8", headers=headers)
    resp.enable_compression()
    return resp
