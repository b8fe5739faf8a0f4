"""The console and the edge schedule a plan's rounds alike: the supervisor's "today" lists
(cloud/patrol/schedule.py) the very rounds the edge tracks (edge/patrol/plans.py), under the
same ids, including overnight shifts, a 24-hour shift and a daylight-saving zone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cloud.patrol import schedule as console
from contract.patrol import PatrolDocument, PlanEntry
from edge.patrol import plans as edge


def _document(plan: PlanEntry) -> PatrolDocument:
    return {"version": 1,
            "checkpoints": {"cp-1": {"name": "北门", "building": "", "floor": "", "area": "",
                                     "receiver": None, "qr": True}},
            "routes": {"r": {"name": "外围", "ordered": True,
                             "points": [{"checkpoint": "cp-1", "offset_s": 0}]}},
            "plans": {"p": plan}, "tags": {}}


def _plan(rng: random.Random) -> PlanEntry:
    start = f"{rng.randrange(24):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"
    end = rng.choice((start, f"{rng.randrange(24):02d}:{rng.choice((0, 30)):02d}:00"))
    return {"name": "p", "route": "r", "days": sorted(rng.sample(range(1, 8), rng.randint(1, 7))),
            "start": start, "end": end, "every_s": rng.choice((0, 1800, 3600, 7200, 10800)),
            "start_window_s": 600, "tolerance_s": 120, "late_s": 300, "tolerances": {},
            "escalate_s": 600}


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin"])
def test_the_console_lists_the_rounds_the_edge_tracks(zone: str) -> None:
    tz = ZoneInfo(zone)
    rng = random.Random(14)
    since = datetime(2026, 3, 27, 16, 0, tzinfo=UTC)  # Berlin's spring change is in the week
    until = since + timedelta(days=7)
    total = 0
    for _ in range(200):
        entry = _plan(rng)
        plan = edge.read_plans(_document(entry)).plans["p"]
        ours = [edge.round_id("p", t) for t in edge.scheduled_starts(plan, tz, since, until)]
        theirs = [console.round_id("p", t)
                  for t in console.scheduled_starts(entry, tz, since, until)]
        assert theirs == ours, entry
        total += len(ours)
    assert total > 2000  # the plans really schedule rounds: the comparison is not of nothings
