"""Card sync against a simulated controller: diff, put, delete, verify, report the drift."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from drivers.access.sync import held_cards, sync_cards
from drivers.access.uhppote_client import UhppoteClient
from drivers.access.uhppote_model import CardSpec
from drivers.base import DriverStats
from simulators.access.uhppote_state import Card
from tests.support.uhppote_rig import rig

TODAY = dt.date(2026, 12, 7)


def cards(numbers: range) -> list[CardSpec]:
    return [CardSpec(n, TODAY, TODAY + dt.timedelta(days=365), {1: 1, 3: 29}, pin=n % 1000)
            for n in numbers]


async def test_sync_makes_the_controller_hold_exactly_the_wanted_cards() -> None:
    async with rig(start=False) as r:
        c = r.config.controller("c1")
        state = r.sims["c1"].state
        wanted = cards(range(1000, 1200))
        # The controller already holds some: 150 right, 3 with other dates, 5 not wanted,
        # and a deleted slot.
        for spec in wanted[:153]:
            end = spec.end if spec.number >= 1003 else spec.end - dt.timedelta(days=9)
            state.put_card(Card(spec.number, spec.start, end, (1, 0, 29, 0), spec.pin))
        for n in range(1, 7):
            state.put_card(Card(n, TODAY, TODAY, (1, 1, 1, 1)))
        state.delete_card(6)
        client = UhppoteClient(r.config, DriverStats())

        report = await sync_cards(client, c, wanted)
        assert report.summary() == {
            "held": 158, "added": 47, "changed": 3, "deleted": 5, "unchanged": 150,
            "failed": 0, "verified": 200, "drift": 55, "in_step": True}
        assert set(state.cards) == {s.number for s in wanted}
        assert state.cards[1000].end == TODAY + dt.timedelta(days=365)
        assert state.cards[1000].doors == (1, 0, 29, 0) and state.cards[1000].pin == 0

        held = await held_cards(client, c)
        assert {n: h.key() for n, h in held.items()} == {s.number: s.key() for s in wanted}
        again = await sync_cards(client, c, wanted)
        assert (again.drift, again.unchanged, again.verified) == (0, 200, 200)


async def test_a_card_the_controller_refuses_is_reported_failed() -> None:
    async with rig(start=False) as r:
        client = UhppoteClient(r.config, DriverStats())
        bad = CardSpec(0xFFFFFFFF, TODAY, TODAY, {1: 1})
        report = await sync_cards(client, r.config.controller("c1"), [*cards(range(1, 6)), bad])
        assert report.failed == [0xFFFFFFFF] and not report.in_step
        assert report.verified == 5


async def test_discovery_broadcasts_only_to_the_configured_address() -> None:
    async with rig(start=False) as r:
        sim = r.sims["c2"]
        config = replace(r.config, broadcast=sim.address)
        found = await UhppoteClient(config, DriverStats()).discover_all(within=0.5)
        assert [(f["serial"], f["version"]) for f in found] == [(sim.state.serial, "v8.92")]
