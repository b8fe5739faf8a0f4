"""The edge's access dataset pull while customer service keeps issuing cards (a move-in day's
burst, PostgreSQL): the pull reads one snapshot and answers the version it read, where reading
statement by statement saw the version move under it on every try and answered HTTP 500."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.access import service
from tests.cloud.test_access_api import PULL, console
from tests.support.auth import token_headers

CARDS = "/api/sites/demo/access/cards"


def card(number: int) -> dict[str, Any]:
    return {"number": str(number), "staff_name": "保洁刘芳", "doors": ["b1-lobby"]}


async def test_a_pull_amid_writes_answers_the_version_it_read(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with console(pg_url) as c:
        cs = await token_headers(c.sessions, "customer_service", ["demo"])
        await c.call("POST", CARDS, cs, 201, card(1001))
        read = service._contents
        numbers = itertools.count(2000)
        writes: list[int] = []

        async def a_card_issued_meanwhile(session: AsyncSession, site_id: int) -> Any:
            doc = await read(session, site_id)
            made = await c.call("POST", CARDS, cs, 201, card(next(numbers)))
            writes.append(made["version"])  # committed by another request mid-pull
            return doc

        monkeypatch.setattr(service, "_contents", a_card_issued_meanwhile)
        resp = await c.client.get("/api/sites/demo/access/dataset", headers=PULL)
        assert resp.status == 200, await resp.text()
        doc = await resp.json()
        assert (doc["version"], list(doc["cards"])) == (1, ["1001"])
        assert resp.headers["ETag"].endswith('1"') and writes == [2]
