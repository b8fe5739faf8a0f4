"""A large site runs: 50 plans over 200 checkpoints, hours of ticks and visits (performance
figures belong to benchmarks; this only proves the tracker copes and stays bounded)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.edge.patrol.test_rounds import GUARD, TAG, Rig, at


def big_document() -> dict[str, Any]:
    cps = {f"cp{i:03}": {"name": f"巡更点{i}", "building": "", "floor": "", "area": "",
                         "receiver": f"rx{i:03}", "qr": False} for i in range(200)}
    codes = list(cps)
    routes = {f"r{j}": {"name": f"路线{j}", "ordered": j % 2 == 0,
                        "points": [{"checkpoint": c, "offset_s": 10 * k}
                                   for k, c in enumerate(codes)]} for j in range(50)}
    plans = {f"p{j}": {"name": f"计划{j}", "route": f"r{j}", "days": [1, 2, 3, 4, 5, 6, 7],
                       "start": f"{j % 24:02}:00:00", "end": f"{j % 24:02}:00:00",
                       "every_s": 3600, "start_window_s": 600, "tolerance_s": 120,
                       "late_s": 300, "tolerances": {}, "escalate_s": 600}
             for j in range(50)}
    return {"version": 1, "checkpoints": cps, "routes": routes, "plans": plans,
            "tags": {TAG: {"guard": GUARD, "label": ""}}}


async def test_fifty_plans_of_two_hundred_checkpoints_through_four_hours(
        tmp_path: Path) -> None:
    r = Rig(tmp_path, at(0, 0))
    await r.start()
    assert await r.tracker.load(big_document())
    began = time.process_time()
    for minute in range(0, 4 * 60, 5):
        t = at(minute // 60, minute % 60)
        await r.tick(t)
        if minute % 60 == 0:  # 50 guards start the hour's 50 rounds, one each
            for g in range(50):
                await r.visit("cp000", t + timedelta(seconds=g), guard=f"guard{g}",
                              tag=f"{TAG[:-4]}{g}")
    busy = time.process_time() - began
    began = time.process_time()
    for s in range(1, 101):  # the service's steady state: a tick a second, little due
        await r.tick(at(4, 0) + timedelta(seconds=s))
    idle = (time.process_time() - began) / 100
    missed = [e for e in r.emitted if e.kind == "patrol.round_missed"]
    started = [e for e in r.emitted if e.kind == "patrol.round_started"]
    print(f"4 simulated hours: {busy:.2f} s CPU for {len(r.emitted)} events; "
          f"a tick a second after: {idle * 1000:.2f} ms CPU each; "
          f"open rounds {len(r.tracker.open_rounds())}, remembered {len(r.tracker.rounds())}")
    assert len(started) == 50 * 4 and not missed  # a visit starts one round, not fifty
    assert len(r.tracker.open_rounds()) <= 50 * 2  # ended rounds leave the open set
    assert r.tracker.status()["unsent"] == 0
    assert r.store is not None
    await r.store.aclose()
