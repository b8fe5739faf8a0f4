"""A small community with bills made directly from the models, and the console over it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.billing.tables import Bill, BillLine, BillRun, FeeItem
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.models import Site
from cloud.records.tables import Building, Resident, Unit
from cloud.settings import Settings
from contract import FakeClock
from tests.support.auth import admin_headers

#: 2026-12-01 10:00 in Shanghai.
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
LATE_FEE = {"daily_rate": "0.0003", "grace_days": 15, "cap": "1"}


@dataclass
class Community:
    sessions: async_sessionmaker[AsyncSession]
    site_id: int
    units: dict[str, int]
    runs: dict[str, int] = field(default_factory=dict)

    async def bill(self, unit: str, period: str, due: date,
                   lines: Sequence[tuple[str, str, str]], state: str = "open") -> int:
        """A bill with lines ``(kind, fee code, amount)``; its total is their sum."""
        async with self.sessions() as s, s.begin():
            run_id = self.runs.get(period)
            if run_id is None:
                run = BillRun(site_id=self.site_id, cycle="monthly", period=period,
                              period_start=date(2026, 1, 1), period_end=date(2026, 2, 1),
                              state="done", started_by="test", started_at=T0)
                s.add(run)
                await s.flush()
                run_id = self.runs[period] = run.id
            total = sum((Decimal(a) for _, _, a in lines), Decimal("0.00"))
            bill = Bill(site_id=self.site_id, run_id=run_id, unit_id=self.units[unit],
                        number=f"DEMO-{period}-{unit}", cycle="monthly", period=period,
                        state=state, total=total, paid=Decimal(0), due_date=due,
                        issued_at=T0, created_at=T0, updated_at=T0)
            s.add(bill)
            await s.flush()
            for kind, code, amount in lines:
                s.add(BillLine(bill_id=bill.id, kind=kind, fee_item_id=None, fee_code=code,
                               description=code, quantity=Decimal(1),
                               unit_price=Decimal(amount), amount=Decimal(amount), source={},
                               created_at=T0))
            return bill.id

    async def get_bill(self, bill_id: int) -> Bill:
        async with self.sessions() as s:
            bill = await s.get(Bill, bill_id)
            assert bill is not None
            return bill


async def build(sessions: async_sessionmaker[AsyncSession],
                late_fee: dict[str, Any] | None = None) -> Community:
    async with sessions() as s, s.begin():
        site = Site(slug="demo", name="演示小区")
        s.add(site)
        await s.flush()
        b1 = Building(site_id=site.id, code="1", name="1号楼", created_at=T0, updated_at=T0)
        b2 = Building(site_id=site.id, code="2", name="2号楼", created_at=T0, updated_at=T0)
        s.add_all([b1, b2])
        await s.flush()
        units = {}
        for code, bld in (("1-101", b1), ("1-102", b1), ("2-101", b2)):
            u = Unit(site_id=site.id, building_id=bld.id, code=code, area=Decimal("100.00"),
                     unit_type="residential", status="occupied", created_at=T0, updated_at=T0)
            s.add(u)
            await s.flush()
            units[code] = u.id
        s.add(Resident(site_id=site.id, unit_id=units["1-101"], role="owner", name="张三",
                       phone="13812345678", created_at=T0, updated_at=T0))
        s.add_all([
            FeeItem(site_id=site.id, code="property", name="物业费", kind="area",
                    cycle="monthly", rule={"rates": {"residential": "2.50"}},
                    late_fee=late_fee, due_days=15, created_at=T0, updated_at=T0),
            FeeItem(site_id=site.id, code="water", name="水费", kind="metered",
                    cycle="monthly", rule={}, late_fee=None, due_days=15, created_at=T0,
                    updated_at=T0)])
        return Community(sessions, site.id, units)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await migrate(db_url)
    engine = make_engine(db_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def community(sessions: async_sessionmaker[AsyncSession]) -> Community:
    return await build(sessions, LATE_FEE)


@dataclass
class Console:
    client: TestClient[Any, Any]
    clock: FakeClock

    async def call(self, method: str, path: str, status: int, body: Any = None) -> Any:
        resp = await self.client.request(method, path, json=body)
        text = await resp.text()
        assert resp.status == status, (resp.status, text)
        return await resp.json() if "json" in resp.content_type else text


@pytest.fixture
async def console(db_url: str, sessions: async_sessionmaker[AsyncSession],
                  community: Community) -> AsyncIterator[Console]:
    del community
    clock = FakeClock(T0)
    headers = await admin_headers(sessions)
    client = TestClient(TestServer(create_app(Settings(database_url=db_url), sessions, clock)),
                        headers=headers)
    await client.start_server()
    try:
        yield Console(client, clock)
    finally:
        await client.close()
