"""The edge's parking dataset pull while staff keep adding vehicles and monthly passes (a burst
of writes, PostgreSQL): the pull reads one snapshot and answers the version it read, where
reading statement by statement saw the version move under it on every try and answered HTTP
500. Every pulled document's version matches its content: each write adds one entry."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.parking import dataset as ds
from cloud.parking.tables import LotTariff
from tests.cloud.test_parking_api import DEMO_AUTH, Api, P, parking_api

PULLS = 6
WRITES = 40


def _write(n: int) -> tuple[str, dict[str, Any]]:
    """The n-th write of the burst: a vehicle or a monthly pass, each with its own plate."""
    plate = f"粤B{n:05d}"
    if n % 2:
        return f"{P}/vehicles", {"plate": plate, "holder": f"车主{n}"}
    return f"{P}/passes", {"plate": plate, "holder": f"月卡{n}", "valid_from": "2026-11-01",
                           "valid_to": "2026-12-31"}


async def _pull(api: Api) -> dict[str, Any]:
    api.clock.advance(1)  # an edge's pace: the pull limit (10 in 2 s per site) stays out of it
    resp = await api.client.get(f"{P}/dataset", headers=DEMO_AUTH)
    assert resp.status == 200, await resp.text()
    doc: dict[str, Any] = await resp.json()
    assert resp.headers["ETag"] == f'"parking-{doc["version"]}"'
    return doc


def _entries(doc: dict[str, Any]) -> int:
    return len(doc["vehicles"]) + len(doc["passes"])


@pytest.fixture
async def api(pg_url: str) -> AsyncIterator[Api]:
    """The console on PostgreSQL, whose REPEATABLE READ is the pull's snapshot."""
    async with parking_api(pg_url) as a:
        yield a


async def test_a_pull_amid_writes_answers_the_version_it_read(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in (1, 2):
        await api.post(*_write(n))
    read = ds.tariffs
    numbers = itertools.count(3)
    versions: list[int] = []

    async def a_burst_meanwhile(session: AsyncSession, site_id: int) -> list[LotTariff]:
        for _ in range(2):  # after the lists, before the tariffs and the closing version read
            versions.append((await api.post(*_write(next(numbers))))["version"])
        return await read(session, site_id)

    monkeypatch.setattr(ds, "tariffs", a_burst_meanwhile)
    doc = await _pull(api)
    assert (doc["version"], _entries(doc)) == (2, 2)
    assert [v["plate"] for v in doc["vehicles"]] == ["粤B00001"]
    assert [p["plate"] for p in doc["passes"]] == ["粤B00002"]
    assert versions == [3, 4]  # committed by other requests mid-pull
    monkeypatch.undo()
    later = await _pull(api)
    assert (later["version"], _entries(later)) == (4, 4)


async def test_every_pull_during_a_burst_matches_its_version(api: Api) -> None:
    done = asyncio.Event()
    pulled: list[dict[str, Any]] = []

    async def writes() -> None:
        try:
            for n in range(1, WRITES + 1):
                await api.post(*_write(n))
        finally:
            done.set()

    async def pulls() -> None:
        while not done.is_set():
            pulled.append(await _pull(api))

    await asyncio.wait_for(asyncio.gather(writes(), *(pulls() for _ in range(PULLS))), 120)
    assert pulled, "no pull finished during the burst"
    assert any(0 < d["version"] < WRITES for d in pulled), "no pull landed mid-burst"
    assert [(d["version"], _entries(d)) for d in pulled] == [
        (d["version"], d["version"]) for d in pulled]
    final = await _pull(api)
    assert (final["version"], _entries(final)) == (WRITES, WRITES)
