"""The login and site-secret rate limits are counted in the database: two console processes
(two apps on one PostgreSQL) share them, so guesses spread over both are limited as if they
met one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cloud.auth.config import RATE_PER_ADDRESS, RATE_PER_USERNAME
from cloud.auth.rate_tables import RateHit
from cloud.auth.ratelimit import SharedWindow
from cloud.auth.site_pull import FAILS_PER_ADDRESS
from tests.auth.conftest import T0
from tests.support import services
from tests.support.console_app import DEMO_PULL, DEMO_SECRET, Console, basic, console_app


@pytest.fixture
def pg_url() -> Iterator[str]:
    with services.fresh_pg_database(migrated=True) as url:
        yield url


async def _try(console: Console, username: str) -> int:
    resp = await console.client.post("/api/login",
                                     json={"username": username, "password": "wrong-guess"})
    await resp.read()
    return resp.status


async def test_guesses_spread_over_two_consoles_share_one_address_limit(pg_url: str) -> None:
    async with console_app(pg_url, T0) as one, console_app(pg_url, T0) as two:
        statuses = [await _try((one, two)[i % 2], f"user{i}") for i in range(RATE_PER_ADDRESS)]
        assert statuses == [401] * RATE_PER_ADDRESS
        for console in (one, two):  # each process alone saw only half: still refused
            resp = await console.client.post(
                "/api/login", json={"username": "user99", "password": "x"})
            body: Any = await resp.json()
            assert resp.status == 429, body
            assert body["error"]["code"] == "too_many_attempts"
            assert int(resp.headers["Retry-After"]) > 0
        one.clock.advance(5 * 60 + 1)
        two.clock.advance(5 * 60 + 1)
        assert await _try(two, "user99") == 401


async def test_guesses_at_one_username_over_two_consoles_share_its_limit(pg_url: str) -> None:
    async with console_app(pg_url, T0) as one, console_app(pg_url, T0) as two:
        for i in range(RATE_PER_USERNAME):
            assert await _try((one, two)[i % 2], "chen") == 401
        assert await _try(one, "chen") == 429
        assert await _try(two, "CHEN") == 429  # the username counts case-insensitively


async def test_old_hits_leave_the_window_and_the_table(db_url: str) -> None:
    async with console_app(db_url, T0) as c:
        limiter = SharedWindow("test", 2, timedelta(minutes=5))
        async with c.sessions() as s, s.begin():
            for at in (T0, T0 + timedelta(minutes=1)):
                assert await limiter.retry_after(s, "k", at) == 0
                await limiter.hit(s, "k", at)
            assert await limiter.retry_after(s, "k", T0 + timedelta(minutes=2)) == 180
            assert await limiter.retry_after(s, "k", T0 + timedelta(minutes=5, seconds=1)) == 0
            await limiter.hit(s, "other", T0 + timedelta(minutes=7))
        async with c.sessions() as s:
            kept = sorted((await s.scalars(
                select(RateHit.key))).all())
        assert kept == ["test|other"]  # both of k's hits were older than the window


async def test_guesses_at_a_site_secret_spread_over_two_consoles_share_one_limit(
        pg_url: str) -> None:
    """The site secret is also the site's MQTT password: N console processes must not give a
    guesser N times the tries at the dataset pull."""
    creds = {"demo": DEMO_SECRET}
    async with console_app(pg_url, T0, creds) as one, console_app(pg_url, T0, creds) as two:
        for i in range(FAILS_PER_ADDRESS):
            console = (one, two)[i % 2]
            resp = await console.client.get("/api/sites/demo/parking/dataset",
                                            headers=basic("demo", f"g{i}"))
            assert resp.status == 401
            for c in (one, two):
                c.clock.advance(1)  # slower than the burst limit: only the guesses count
        for console in (one, two):  # each process alone saw only half: both refuse now
            resp = await console.client.get("/api/sites/demo/parking/dataset",
                                            headers=DEMO_PULL)
            assert resp.status == 429
            assert int(resp.headers["Retry-After"]) > 60
