"""Authenticating test clients: a real API token of a given role, scoped to sites.

The token is created in the test's database like ``courtyard cloud token create`` would;
missing ``sites`` rows are created so a test can scope a token before any edge reported.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.accounts import site_ids_for
from cloud.auth.tokens import create_token

_names = itertools.count(1)


async def token_headers(sessions: async_sessionmaker[AsyncSession], role: str = "admin",
                        sites: Iterable[str] | None = None) -> dict[str, str]:
    """``Authorization: Bearer …`` for a new token of ``role`` on ``sites`` (slugs; None: all)."""
    slugs = None if sites is None else list(sites)
    async with sessions() as session, session.begin():
        site_ids = await site_ids_for(session, slugs, create=slugs or ())
        _, secret = await create_token(session, name=f"test-{role}-{next(_names)}", role=role,
                                       site_ids=site_ids, created_by="tests",
                                       now=datetime.now(UTC))
    return {"Authorization": f"Bearer {secret}"}


async def admin_headers(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    return await token_headers(sessions, "admin")


async def create_staff(sessions: async_sessionmaker[AsyncSession], username: str, password: str,
                       role: str = "admin", sites: Iterable[str] | None = None,
                       display_name: str | None = None) -> int:
    """A staff account (for login tests and browser pages); returns its id."""
    from cloud.auth.accounts import create_user

    slugs = None if sites is None else list(sites)
    async with sessions() as session, session.begin():
        site_ids = await site_ids_for(session, slugs, create=slugs or ())
        user = await create_user(session, username=username, role=role, password=password,
                                 now=datetime.now(UTC), site_ids=site_ids,
                                 display_name=display_name)
        return user.id


async def browser_login(page: Any, base_url: str, username: str, password: str,
                        then: str = "/") -> None:
    """Log a Playwright page in through the real login page, landing on ``then``."""
    from urllib.parse import quote

    await page.goto(f"{base_url}/login?next={quote(then, safe='')}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    async with page.expect_navigation():
        await page.click("#submit")


def cli_token_headers(env: dict[str, str], role: str = "admin") -> dict[str, str]:
    """A token made by ``courtyard cloud token create`` in a child process, for tests that run
    the console as a process (``env`` names its database)."""
    import subprocess
    import sys

    from tests.support.procs import REPO

    out = subprocess.run(
        [sys.executable, "-m", "courtyard", "cloud", "token", "create", "--name",
         f"e2e-{role}", "--role", role], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=60, check=True).stdout.strip().splitlines()[-1]
    return {"Authorization": f"Bearer {out}"}
