"""The edge's safety part as deployed: a site file with an ``access`` section makes the edge run
the door-controller driver and hand fire linkage the real egress doors (two simulated
controllers over UDP)."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from pathlib import Path
from typing import Any

from contract import Kind, SystemClock
from edge.config import load_site
from edge.safety import SafetyService
from simulators.access import uhppote_wire as w
from tests.edge.config.conftest import BASE_SITE, FIXTURE_PROFILES
from tests.edge.linkage.conftest import fire
from tests.support.uhppote_rig import Outbox, rig


def _site(tmp: Path, c1: str, c2: str) -> Path:
    text = BASE_SITE.replace("data_dir: var/edge-court-7", f"data_dir: {tmp / 'edge'}") + f"""\
linkage:
  rules:
    - {{id: fire-any, raise_gates: false, recall_elevators: false}}
access:
  listen: 127.0.0.1:0
  bind: 127.0.0.1
  timeout: 0.5
  poll_interval: 0.2
  controllers:
    - {{id: c1, serial: 405419896, address: "{c1}", doors: 4}}
    - {{id: c2, serial: 303986753, address: "{c2}", doors: 2}}
  doors:
    - {{id: 1-east, controller: c1, door: 1, building: "1", egress: true}}
    - {{id: 1-lobby, controller: c1, door: 3, building: "1"}}
    - {{id: 2-east, controller: c2, door: 1, building: "2", egress: true}}
"""
    path = tmp / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def doors(outbox: Outbox) -> list[dict[str, Any]]:
    return [e.data for e in outbox.of(Kind.LINKAGE_ACTION) if e.data["action"] == "unlock_doors"]


async def test_the_edge_opens_building_1s_egress_doors_on_a_fire_there(tmp_path: Path) -> None:
    async with rig(start=False) as r:
        c1, c2 = r.sims["c1"], r.sims["c2"]
        config = load_site(_site(tmp_path, c1.address, c2.address), FIXTURE_PROFILES)
        outbox = Outbox()
        service = SafetyService(config, outbox, SystemClock())
        access = service.access
        assert access is not None and service.linkage is not None
        task = asyncio.create_task(service.run())
        try:
            await r.until(lambda: all(e.is_set() for e in access.ready.values()),
                          what="controllers ready")
            c1.swipe(4242, 3)
            await r.until(lambda: bool(outbox.of(Kind.ACCESS_DENIED)), what="a denied swipe")
            await service.emit(fire("1"))
            await r.until(lambda: bool(doors(outbox)), what="door action")
            [action] = doors(outbox)
            assert (action["target"], action["result"]) == ("1", "ok")
            assert c1.state.doors[1].mode == w.NORMALLY_OPEN
            assert c1.state.doors[3].mode == w.CONTROLLED
            assert c2.state.doors[1].mode == w.CONTROLLED
            status = service.status()["access"]
            assert status["controllers"]["c1"]["online"] is True
            assert status["counters"]["uhppote_events"] == 1
            assert (tmp_path / "edge" / "uhppote-cursors.json").is_file()
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
