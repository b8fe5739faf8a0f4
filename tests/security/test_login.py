"""Logging in tells an attacker nothing and sends nobody off-site.

- Probing usernames: an unknown name, a wrong password and a locked account get the same
  status and the same body, in comparable time (the password hash is checked every time).
- The open redirect: ``/login?next=…`` only ever leads to a path on this console; the console
  decides, the page only follows its answer.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest

from cloud.auth.roles import ROLE_HOME, ROLES
from tests.browser import conftest as real_browser
from tests.support.auth import create_staff
from tests.support.two_sites import PASSWORD, TwoSites, two_sites

if TYPE_CHECKING:
    from playwright.async_api import Browser

#: Debian's Chromium through Playwright, as the browser tests use it (skipped locally without
#: it, failed in CI).
chromium = real_browser.chromium
browser = real_browser.browser


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[TwoSites]:
    async with two_sites(db_url) as w:
        yield w


async def _try(http: aiohttp.ClientSession, username: str, password: str,
               **extra: Any) -> tuple[int, Any, float]:
    started = time.perf_counter()
    async with http.post("/api/login", json={"username": username, "password": password,
                                              **extra}) as resp:
        body = await resp.json()
    return resp.status, body, time.perf_counter() - started


async def test_locked_unknown_and_wrong_get_one_answer_in_comparable_time(
        world: TwoSites) -> None:
    await create_staff(world.sessions, "chen", PASSWORD, "guard")
    await create_staff(world.sessions, "wang", PASSWORD, "guard")
    async with aiohttp.ClientSession(base_url=world.url()) as http:
        for _ in range(5):  # chen's account locks on the fifth failure
            assert (await _try(http, "chen", "not-the-password"))[0] == 401
        answers: dict[str, list[tuple[int, Any, float]]] = {"locked": [], "unknown": [],
                                                             "wrong": []}
        for _ in range(3):
            # Even the right password: a locked account must not say it is locked.
            answers["locked"].append(await _try(http, "chen", PASSWORD))
            answers["unknown"].append(await _try(http, "nobody-here", PASSWORD))
            answers["wrong"].append(await _try(http, "wang", "not-the-password"))
    seen = {(status, str(body)) for runs in answers.values() for status, body, _ in runs}
    assert len(seen) == 1, seen  # one status, one body, for all three
    status, body = next(iter(seen))
    assert status == 401 and "invalid_credentials" in body
    median = {k: statistics.median(t for *_, t in runs) for k, runs in answers.items()}
    # Every answer pays for one argon2 check: none is a shortcut (a factor, not a guess).
    assert median["locked"] > 0.5 * median["wrong"], median
    assert median["unknown"] > 0.5 * median["wrong"], median
    # The lock still holds, and the audit log (not the answer) says why.
    async with aiohttp.ClientSession(base_url=world.url()) as http:
        assert (await _try(http, "chen", PASSWORD))[0] == 401
    reasons = [e.detail.get("reason") for e in await world.audit("staff_user")
               if e.action == "login_failed" and e.detail]
    assert "locked" in reasons and "unknown_user" in reasons


@pytest.mark.parametrize(("asked", "kept"), [  # a guard: refused ones land on the guard board
    ("//evil.example", "/guard"),
    ("/%09/evil.example", "/guard"),
    ("/\\evil.example", "/guard"),
    ("https://evil.example", "/guard"),
    ("/%2F%2Fevil.example", "/guard"),
    ("", "/guard"),
    ("/ok", "/ok"),
    ("/guard?site=north", "/guard?site=north"),
])
async def test_next_is_only_a_path_on_this_console(world: TwoSites, asked: str,
                                                   kept: str) -> None:
    await create_staff(world.sessions, "zhou", PASSWORD, "guard")
    async with aiohttp.ClientSession(base_url=world.url()) as http:
        status, me, _ = await _try(http, "zhou", PASSWORD, next=asked)
    assert status == 200 and me["next"] == kept


async def test_each_role_lands_on_a_home_it_may_open(world: TwoSites) -> None:
    """Logging in without a page asked for leads each role to the page it works in, and that
    page opens for it (a customer-service clerk once landed on a bare 403 line)."""
    assert set(ROLE_HOME) == set(ROLES)
    for role, home in ROLE_HOME.items():
        await create_staff(world.sessions, f"home-{role}", PASSWORD, role)
        async with aiohttp.ClientSession(base_url=world.url(),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            status, me, _ = await _try(http, f"home-{role}", PASSWORD)
            assert status == 200 and me["next"] == home == me["home"], (role, me)
            async with http.get(home, allow_redirects=False) as page:
                assert page.status == 200, (role, home, page.status)
                assert page.content_type == "text/html", (role, home)


@pytest.mark.parametrize("asked", ["/%09/evil.example", "//evil.example", "/\\evil.example"])
async def test_the_login_page_never_leaves_the_console(world: TwoSites, browser: Browser,
                                                       asked: str) -> None:
    """In a real Chromium: the page that was sent off-site by ``/%09/evil`` (the browser
    drops the tab and reads ``//evil``) lands on the console's own page: the guard's board."""
    await create_staff(world.sessions, "zhou", PASSWORD, "guard")
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(world.url("/login") + "?next=" + quote(asked, safe=""))
        await page.fill("#username", "zhou")
        await page.fill("#password", PASSWORD)
        async with page.expect_navigation():
            await page.click("#submit")
        landed = urlsplit(page.url)
        assert (landed.netloc, landed.path) == (urlsplit(world.url()).netloc, "/guard"), page.url
    finally:
        await context.close()
