"""Acceptance (work orders): a simulated elevator traps a passenger → within seconds the
console has a critical alarm and an urgent rescue order, SLA 30 min from the device event,
assigned to the on-duty technician; left alone it escalates; done and closed, it asks for a
rating.

Real parts: a simulated elevator box over Modbus TCP, the edge (EdgeApp: elevator driver,
outbox, uplink), Mosquitto, the console's ingest worker with the shipped rules on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.alarms.tables import Alarm
from cloud.db.engine import make_engine, migrate
from cloud.db.engine import session_factory as make_sessions
from cloud.db.models import Site
from cloud.features import default_registry
from cloud.ingest import Ingestor, IngestWorker
from cloud.rules.evaluate import RuleEngine
from cloud.rules.load import default_rules
from cloud.workorders.service import act, check_sla
from cloud.workorders.tables import Technician, WorkOrder
from contract import SystemClock
from edge.app import EdgeApp
from edge.config import load_site
from simulators.elevator.car import SimCar
from simulators.elevator.server import ElevatorBox, ElevatorSimulator
from tests.edge.helpers_cloud import wait_until
from tests.support import services

pytestmark = pytest.mark.slow

SITE = "rescue-e2e"


@pytest.fixture
async def cloud_db(pg_url: str) -> AsyncIterator[str]:
    await migrate(pg_url)
    yield pg_url


async def test_a_trapped_passenger_becomes_an_urgent_dispatched_rescue_order(
        tmp_path: Path, cloud_db: str, mosquitto: services.Mosquitto) -> None:
    elev_port = services.free_port()
    site_file = tmp_path / "site.yaml"
    site_file.write_text(f"""\
site: {{id: {SITE}, name: 电梯救援验收}}
cloud: {{mqtt_url: "{mosquitto.url}", username: {SITE}}}
edge: {{data_dir: "{tmp_path / 'edge'}", health_port: {services.free_port()}}}
buses:
  - {{id: elev, type: modbus_tcp, host: 127.0.0.1, port: {elev_port}, timeout: 0.5}}
elevators:
  - {{id: elev-2-a, name: 2号楼 A 梯, building: "2", bus: elev, address: 1,
     profile: generic_gbt24476, poll_interval: 0.2}}
""", encoding="utf-8")
    car = SimCar(start_floor=5, floor_s=0.2, door_s=0.2, dwell_s=1.0)
    box = ElevatorBox.from_profile(1, "generic", car)
    sim = ElevatorSimulator([box], tcp=("127.0.0.1", elev_port))
    await sim.start()
    engine = make_engine(cloud_db)
    sessions = make_sessions(engine)
    async with sessions() as s, s.begin():  # the site and its on-call technicians
        site = Site(slug=SITE, name="电梯救援验收")
        s.add(site)
        await s.flush()
        s.add_all([Technician(name="赵师傅", skills=["elevator"], site_ids=[site.id],
                              on_duty=False),
                   Technician(name="钱师傅", skills=["elevator"], site_ids=[site.id],
                              on_duty=True)])
    clock = SystemClock()
    registry = default_registry(rules=RuleEngine(default_rules(), clock))
    cloud = asyncio.create_task(IngestWorker(
        mosquitto.url, None, None, Ingestor(sessions, clock, registry), clock,
        client_id="rescue-ingest").run())
    app = EdgeApp(load_site(site_file), uplink_overrides={"backoff_initial": 0.2,
                                                          "backoff_cap": 0.5})
    edge = asyncio.create_task(app.run())
    try:
        await wait_until(lambda: app.safety is not None and all(
            d.online for d in app.safety.elevators.values()), within=20, what="elevator online")
        await car.trap(at_landing=False)

        async def order() -> WorkOrder | None:  # the fault code opens its own repair order
            async with sessions() as s:
                return (await s.scalars(select(WorkOrder).where(
                    WorkOrder.category == "elevator_rescue"))).one_or_none()

        deadline = asyncio.get_running_loop().time() + 20
        while (wo := await order()) is None:
            assert asyncio.get_running_loop().time() < deadline, "no work order"
            await asyncio.sleep(0.2)
        async with sessions() as s:
            alarms = (await s.scalars(select(Alarm).where(
                Alarm.kind == "elevator.trapped"))).all()
            tech = await s.get(Technician, wo.assignee_ids[0])
        assert len(alarms) == 1 and alarms[0].severity == "critical"
        assert (wo.priority, wo.category, wo.state) == ("urgent", "elevator_rescue",
                                                        "assigned")
        assert wo.resolve_due == wo.cause_ts + timedelta(minutes=30)
        assert wo.cause_ts <= wo.opened_at, "the SLA clock starts at the device event"
        assert tech is not None and tech.name == "钱师傅"

        # Nobody accepts it: past the response SLA it is escalated to the supervisor.
        async with sessions() as s, s.begin():
            escalated = await check_sla(s, wo.response_due + timedelta(seconds=1))
        assert [e.order_id for e in escalated] == [wo.id]

        # The technician rescues, completes; the supervisor closes; a rating is asked for.
        now = clock.now()
        async with sessions() as s, s.begin():
            for action, by in (("accept", "钱师傅"), ("start", "钱师傅"),
                               ("complete", "钱师傅"), ("close", "主管")):
                await act(s, wo.id, action, by, "救出乘客 / passenger freed", now,
                          role="technician" if by == "钱师傅" else "supervisor")
        closed = await order()
        assert closed is not None and closed.state == "closed"
        assert closed.rating_requested_at is not None, "the owner is asked for a rating"
    finally:
        app.request_stop()
        await asyncio.wait_for(edge, 30)
        cloud.cancel()
        await asyncio.gather(cloud, return_exceptions=True)
        await sim.stop()
        await engine.dispose()
