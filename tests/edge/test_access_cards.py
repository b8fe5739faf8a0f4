"""The access dataset reaches the 微耕/UHPPOTE controllers: each holds exactly the cards that
open one of its doors, with dates, profiles and revocations, and decides swipes by them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from contract import Kind
from drivers.access.sync import SyncReport
from edge.access_cards import ControllerCards, plan
from simulators.access import uhppote_wire as w
from tests.support.uhppote_rig import SERIALS, TZ, rig


def dataset(version: int, blocked: list[str] | None = None) -> dict[str, Any]:
    today = dt.datetime.now(TZ)
    not_today = [d for d in range(1, 8) if d != today.isoweekday()]
    past = (today - dt.timedelta(days=3)).isoformat()
    cards: dict[str, Any] = {
        "1001": {"holder": "owner-a", "doors": ["1-east"]},
        "1002": {"holder": "staff-1", "doors": ["*"]},
        "1003": {"holder": "tenant-b", "doors": ["2-east"], "valid_to": past},
        "1004": {"holder": "owner-77", "doors": ["1-east"]},
        "1005": {"holder": "owner-c", "doors": ["1-west"], "profile": "other-days"},
        "1006": {"holder": "owner-d", "doors": ["1-lobby"], "profile": "night"},
    }
    cards.update({str(n): {"holder": f"garage-{n}", "doors": ["2-garage"]}
                  for n in range(20000, 20200)})
    return {"version": version, "cards": cards, "blocked": ["owner-77", *(blocked or [])],
            "time_profiles": {
                "other-days": [{"days": not_today, "from": "00:00", "to": "23:59"}],
                "night": [{"days": [1, 2, 3, 4, 5], "from": "22:00", "to": "06:00"}]}}


async def test_each_controller_holds_its_cards_and_decides_by_them() -> None:
    async with rig() as r:
        assert r.driver is not None
        plans = plan(dataset(1), r.driver, TZ)
        assert sorted(c.number for c in plans["c1"].cards) == [1001, 1002, 1005, 1006]
        assert len(plans["c2"].cards) == 202
        night = [p for p in plans["c1"].profiles if p.id in (2, 3)]   # names sorted: night first
        assert [(p.segments, p.linked) for p in night] == [
            (((dt.time(22, 0), dt.time(23, 59)),), 3), (((dt.time(0, 0), dt.time(6, 0)),), 0)]
        assert night[1].weekdays == frozenset({1, 2, 3, 4, 5})        # Tue…Sat mornings

        sync = ControllerCards(r.driver, TZ)
        reports = await sync.apply(dataset(1))
        assert all(isinstance(x, SyncReport) and x.in_step for x in reports.values())
        c1, c2 = r.sims["c1"].state, r.sims["c2"].state
        assert set(c1.cards) == {1001, 1002, 1005, 1006} and len(c2.cards) == 202
        assert c1.cards[1002].doors == (1, 1, 1, 0) and c2.cards[1002].doors == (1, 1, 0, 0)
        assert c1.cards[1005].doors == (0, 4, 0, 0) and c1.profiles[4].linked == 0

        for sim, card, door in (("c1", 1001, 1), ("c1", 1005, 2), ("c1", 1004, 1),
                                ("c2", 1003, 1), ("c2", 20005, 2), ("c2", 20005, 1)):
            r.sims[sim].swipe(card, door)
        await r.until(lambda: len(r.outbox.events) == 6, what="six swipes")
        got = {(e.data["credential"], e.device): e.data.get("reason", "granted")
               for e in r.outbox.events}
        assert got == {("1001", "1-east"): "granted", ("1005", "1-west"): "time_profile",
                       ("1004", "1-east"): "denied", ("1003", "2-east"): "no_privilege",
                       ("20005", "2-garage"): "granted", ("20005", "2-east"): "no_privilege"}

        revoked = await sync.apply(dataset(2, blocked=["owner-a"]))
        report = revoked["c1"]
        assert isinstance(report, SyncReport) and report.deleted == [1001]
        assert 1001 not in c1.cards and sync.version == 2
        r.sims["c1"].swipe(1001, 1)
        await r.until(lambda: len(r.outbox.of(Kind.ACCESS_DENIED)) == 5, what="revoked")
        assert r.outbox.events[-1].data["reason"] == "denied"


async def test_an_unreachable_controller_is_reported_and_the_other_still_synced() -> None:
    async with rig() as r:
        assert r.driver is not None
        r.sims["c1"].answering = False
        reports = await ControllerCards(r.driver, TZ).apply(dataset(1))
        assert isinstance(reports["c1"], str) and "无应答" in reports["c1"]
        assert isinstance(reports["c2"], SyncReport) and reports["c2"].in_step
        assert len(r.sims["c2"].state.cards) == 202 and SERIALS[1] == r.sims["c2"].state.serial
        assert r.sims["c2"].state.doors[1].mode == w.CONTROLLED
