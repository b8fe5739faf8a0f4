"""The edge's dataset pulls (parking, access, …): HTTP Basic with the site's slug and secret.

The site secret is also the site's MQTT password, so guessing it here must be as slow as
guessing a staff password at ``/api/login``: pulls are limited per site and source address
(an edge pulls once per announcement or poll; a burst of ``PULL_BURST`` within
``PULL_WINDOW`` is plenty), failed credentials per source address (``FAILS_PER_ADDRESS`` in
``FAIL_WINDOW``), and every refusal waits ``FAIL_DELAY`` before it answers. Over a limit the
answer is 429 with ``Retry-After``, before the credential is even looked at.

One set of counters serves every dataset's pull, so each new dataset does not give a guesser
another ten tries. The failures are counted in the database (``rate_hits``), so the console
processes of ``serve --workers N`` count one guesser's tries together; the two-second burst
limit on good pulls is a courtesy to the console and stays in each process's memory.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from cloud.auth.ratelimit import SharedWindow, SlidingWindow
from cloud.web.errors import ApiError, json_error
from cloud.web.keys import CLOCK, SESSIONS, SITE_CREDENTIALS

PULL_BURST = 10
PULL_WINDOW = timedelta(seconds=2)
FAILS_PER_ADDRESS = 10
FAIL_WINDOW = timedelta(minutes=5)
FAIL_DELAY = 0.2  # seconds; a refused guess costs the guesser time, like argon2 at login


@dataclass
class PullLimits:
    """Good pulls per process (in memory), failed credentials per address (in the database,
    shared by every console process)."""

    pulls: SlidingWindow = field(
        default_factory=lambda: SlidingWindow(PULL_BURST, PULL_WINDOW))
    failures: SharedWindow = field(
        default_factory=lambda: SharedWindow("site-pull-fail", FAILS_PER_ADDRESS, FAIL_WINDOW))


PULL_LIMITS = web.AppKey("courtyard.site_pull_limits", PullLimits)


def install_pull_limits(app: web.Application) -> None:
    """Once per app, by whichever dataset feature sets up first."""
    if PULL_LIMITS not in app:
        app[PULL_LIMITS] = PullLimits()


def _remote(request: web.Request) -> str:
    return (request.remote or "unknown")[:64]


def _too_many(seconds: int) -> web.Response:
    resp = json_error(ApiError(429, "too_many_requests",
                               f"请求过于频繁，请 {seconds} 秒后再试",
                               f"too many requests; try again in {seconds} s", field=None,
                               retry_after=seconds))
    resp.headers["Retry-After"] = str(seconds)
    return resp


def _challenge(slug: str, zh: str, en: str) -> web.Response:
    resp = json_error(ApiError(401, "unauthorized", zh, en, field="authorization"))
    resp.headers["WWW-Authenticate"] = f'Basic realm="courtyard site {slug}", charset="UTF-8"'
    return resp


async def _unauthorized(request: web.Request, slug: str, zh: str, en: str) -> web.Response:
    limits = request.app.get(PULL_LIMITS)
    if limits is not None:
        async with request.app[SESSIONS]() as session, session.begin():
            await limits.failures.hit(session, _remote(request), request.app[CLOCK].now())
    await asyncio.sleep(FAIL_DELAY)
    return _challenge(slug, zh, en)


async def _over_limit(request: web.Request, slug: str) -> int:
    """Seconds to wait when this source is over a limit (counting this pull otherwise)."""
    limits = request.app.get(PULL_LIMITS)
    if limits is None:
        return 0
    now, remote = request.app[CLOCK].now(), _remote(request)
    key = f"{slug}|{remote}"
    async with request.app[SESSIONS]() as session, session.begin():
        failed = await limits.failures.retry_after(session, remote, now)
    wait = max(failed, limits.pulls.retry_after(key, now))
    if not wait:
        limits.pulls.hit(key, now)
    return wait


def basic_credentials(header: str) -> tuple[str, str]:
    """(login, password) of an ``Authorization: Basic …`` header (RFC 7617, UTF-8)."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise ValueError("not Basic")
    login, sep, password = base64.b64decode(encoded.strip(), validate=True).decode(
        "utf-8").partition(":")
    if not sep:
        raise ValueError("no colon")
    return login, password


async def refuse_site_pull(request: web.Request, slug: str) -> web.Response | None:
    """The answer refusing this pull (403 unconfigured, 429, 401), or None when the request
    carries the site's own credential."""
    secret = (request.app.get(SITE_CREDENTIALS) or {}).get(slug)
    if secret is None:
        raise ApiError(403, "site_not_configured",
                       f"小区 {slug} 没有凭据：COURTYARD_SITE_CREDENTIALS 须包含它（小区:密码）",
                       f"site {slug} has no credential: COURTYARD_SITE_CREDENTIALS must name "
                       "it (site:secret)", field="site")
    wait = await _over_limit(request, slug)
    if wait:
        return _too_many(wait)
    header = request.headers.get("Authorization")
    if not header:  # the first request of a client that waits for the challenge: not a guess
        return _challenge(slug, "需要小区凭据（HTTP Basic：小区标识与小区密码）",
                          "site credential required (HTTP Basic: site slug and secret)")
    try:
        login, password = basic_credentials(header)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return await _unauthorized(request, slug, "Authorization 头格式错误",
                                   "malformed Authorization header")
    login_ok = hmac.compare_digest(login.encode(), slug.encode())
    secret_ok = hmac.compare_digest(password.encode(), secret.encode())
    if not (login_ok and secret_ok):
        return await _unauthorized(request, slug, "小区标识或密码错误",
                                   "wrong site slug or secret")
    return None


def tag_matches(header: str | None, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (or ``*``): the edge already holds it."""
    if not header:
        return False
    for part in header.split(","):
        part = part.strip()
        if part == "*" or part.removeprefix("W/") == tag:
            return True
    return False
