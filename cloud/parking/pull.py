"""``GET /api/sites/{site}/parking/dataset``: the edge pulls the site's parking dataset with
HTTP Basic (the site's slug and its MQTT secret) and an ETag, so an unchanged version costs a
304. Public to the staff guard: it checks the site secret itself, in constant time.

The site secret is also the site's MQTT password, so guessing it here must be as slow as
guessing a staff password at ``/api/login``: pulls are limited per site and source address
(an edge pulls once per announcement or poll; a burst of ``PULL_BURST`` within
``PULL_WINDOW`` is plenty), failed credentials per source address (``FAILS_PER_ADDRESS`` in
``FAIL_WINDOW``), and every refusal waits ``FAIL_DELAY`` before it answers. Over a limit the
answer is 429 with ``Retry-After``, before the credential is even looked at.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from cloud.auth.ratelimit import SlidingWindow
from cloud.db.models import Site
from cloud.parking import dataset as ds
from cloud.parking.http import site_credentials
from cloud.parking.records import RESOURCES
from cloud.web.errors import ApiError, json_error
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.respond import dumps

PULL_BURST = 10
PULL_WINDOW = timedelta(seconds=2)
FAILS_PER_ADDRESS = 10
FAIL_WINDOW = timedelta(minutes=5)
FAIL_DELAY = 0.2  # seconds; a refused guess costs the guesser time, like argon2 at login


@dataclass
class PullLimits:
    """The console process's counters (in memory, like the login limiter)."""

    pulls: SlidingWindow = field(
        default_factory=lambda: SlidingWindow(PULL_BURST, PULL_WINDOW))
    failures: SlidingWindow = field(
        default_factory=lambda: SlidingWindow(FAILS_PER_ADDRESS, FAIL_WINDOW))


PULL_LIMITS = web.AppKey("courtyard.parking.pull_limits", PullLimits)


def _too_many(seconds: int) -> web.Response:
    resp = json_error(ApiError(429, "too_many_requests",
                               f"请求过于频繁，请 {seconds} 秒后再试",
                               f"too many requests; try again in {seconds} s", field=None,
                               retry_after=seconds))
    resp.headers["Retry-After"] = str(seconds)
    return resp


async def _unauthorized(request: web.Request, slug: str, zh: str, en: str) -> web.Response:
    limits = request.app.get(PULL_LIMITS)
    if limits is not None:
        limits.failures.hit(_remote(request), request.app[CLOCK].now())
    await asyncio.sleep(FAIL_DELAY)
    resp = json_error(ApiError(401, "unauthorized", zh, en, field="authorization"))
    resp.headers["WWW-Authenticate"] = f'Basic realm="courtyard site {slug}", charset="UTF-8"'
    return resp


def _remote(request: web.Request) -> str:
    return (request.remote or "unknown")[:64]


def _over_limit(request: web.Request, slug: str) -> int:
    """Seconds to wait when this source is over a limit (counting this pull otherwise)."""
    limits = request.app.get(PULL_LIMITS)
    if limits is None:
        return 0
    now, remote = request.app[CLOCK].now(), _remote(request)
    key = f"{slug}|{remote}"
    wait = max(limits.failures.retry_after(remote, now), limits.pulls.retry_after(key, now))
    if not wait:
        limits.pulls.hit(key, now)
    return wait


def _basic_credentials(header: str) -> tuple[str, str]:
    """(login, password) of an ``Authorization: Basic …`` header (RFC 7617, UTF-8)."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise ValueError("not Basic")
    login, sep, password = base64.b64decode(encoded.strip(), validate=True).decode(
        "utf-8").partition(":")
    if not sep:
        raise ValueError("no colon")
    return login, password


def _tag_matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    for part in header.split(","):
        part = part.strip()
        if part == "*" or part.removeprefix("W/") == tag:
            return True
    return False


async def parking_dataset(request: web.Request) -> web.StreamResponse:
    """The site's parking dataset for its edge: HTTP Basic (slug, site secret), ETag, 304."""
    slug = request.match_info["site"]
    secret = site_credentials(request).get(slug)
    if secret is None:
        raise ApiError(403, "site_not_configured",
                       f"小区 {slug} 没有凭据：COURTYARD_SITE_CREDENTIALS 须包含它（小区:密码）",
                       f"site {slug} has no credential: COURTYARD_SITE_CREDENTIALS must name "
                       "it (site:secret)", field="site")
    wait = _over_limit(request, slug)
    if wait:
        return _too_many(wait)
    header = request.headers.get("Authorization")
    if not header:  # the first request of a client that waits for the challenge: not a guess
        resp = json_error(ApiError(401, "unauthorized",
                                   "需要小区凭据（HTTP Basic：小区标识与小区密码）",
                                   "site credential required (HTTP Basic: site slug and secret)",
                                   field="authorization"))
        resp.headers["WWW-Authenticate"] = (f'Basic realm="courtyard site {slug}", '
                                            'charset="UTF-8"')
        return resp
    try:
        login, password = _basic_credentials(header)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return await _unauthorized(request, slug, "Authorization 头格式错误",
                                   "malformed Authorization header")
    login_ok = hmac.compare_digest(login.encode(), slug.encode())
    secret_ok = hmac.compare_digest(password.encode(), secret.encode())
    if not (login_ok and secret_ok):
        return await _unauthorized(request, slug, "小区标识或密码错误",
                                   "wrong site slug or secret")
    async with request.app[SESSIONS]() as session:
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
        version = 0 if site is None else await ds.current_version(session, site.id)
        headers = {"ETag": ds.etag(version), "Cache-Control": "no-cache"}
        if _tag_matches(request.headers.get("If-None-Match"), ds.etag(version)):
            return web.Response(status=304, headers=headers)
        doc: dict[str, Any] = ({"version": 0} | {r.doc_key: [] for r in RESOURCES.values()}
                               | {"tariffs": {}}) if site is None else await ds.document(
                                   session, site.id)
    resp = web.Response(body=dumps(doc).encode(), content_type="application/json",
                        charset="utf-8",
                        headers={"ETag": ds.etag(doc["version"]), "Cache-Control": "no-cache"})
    resp.enable_compression()
    return resp
