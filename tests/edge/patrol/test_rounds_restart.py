"""Rounds survive the edge: a restart mid-round continues it without repeating an event,
deadlines passed while the box was down fire on the first tick, an outbox failure or a crash
before the hand-over re-emits the same event (same id), and a dataset update mid-round leaves
the round on the plan it started with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.edge.patrol.test_rounds import GUARD, Rig, at, day_rig, document, what


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with day_rig(tmp_path) as r:
        yield r


async def test_a_restart_mid_round_continues_it_and_repeats_nothing(rig: Rig) -> None:
    await rig.visit("a", at(9, 1))
    before = list(rig.emitted)
    tracker = await rig.start()  # reboot: new store, new tracker, same patrol.db
    assert tracker.plans.version == 1 and len(tracker.open_rounds()) == 1
    assert await rig.tick(at(9, 2)) == []
    assert await rig.visit("a", at(9, 2, 30)) == []  # the guard still at a: no second visit
    got = await rig.visit("b", at(9, 6))
    assert what(got) == [("checkpoint", "b:on_time")]  # no second round_started
    assert got[0].data["round"] == before[0].data["round"]
    got = await rig.visit("c", at(9, 8))
    assert what(got)[-1] == ("round_completed", "complete")
    assert len({e.id for e in rig.emitted}) == len(rig.emitted) == 5


async def test_deadlines_passed_while_down_fire_on_the_first_tick_once(rig: Rig) -> None:
    await rig.visit("a", at(9, 1))
    assert rig.store is not None
    await rig.store.aclose()
    rig.store = None
    rig.move_to(at(11, 30))  # down from 09:01 to 11:30: b, c missed; the 11:00 round too
    await rig.start()
    assert rig.tracker.next_deadline() is not None
    assert rig.tracker.next_deadline() <= at(11, 30)  # type: ignore[operator]
    got = await rig.tick(at(11, 30))
    assert what(got) == [("checkpoint_missed", "b"), ("checkpoint_missed", "c"),
                         ("round_completed", "incomplete"), ("round_missed", "")]
    assert [e.ts for e in got] == [at(9, 12), at(9, 20), at(9, 20), at(11, 10)]
    assert got[-1].data["round"] == "day@2026-03-02T03:00:00Z"
    await rig.start()
    assert await rig.tick(at(11, 31)) == []  # after another restart: nothing twice


async def test_a_refused_emit_is_retried_with_the_same_event(rig: Rig) -> None:
    await rig.visit("a", at(9, 1))
    rig.fail_emit = True  # the outbox cannot store: the alarm must not be lost
    decided = await rig.tick(at(9, 12))
    assert what(decided) == [("checkpoint_missed", "b")]
    assert [e.kind for e in rig.emitted] == ["patrol.round_started", "patrol.checkpoint"]
    assert rig.tracker.next_deadline() == at(9, 12, 1)  # the retry, a second on
    assert await rig.tick(at(9, 12, 1)) == []  # still refused: kept, tried again later
    assert rig.tracker.next_deadline() == at(9, 12, 2)
    rig.fail_emit = False
    retried = await rig.tick(at(9, 12, 2))
    assert [e.id for e in retried] == [decided[0].id]
    assert rig.emitted[-1].id == decided[0].id and rig.tracker.status()["unsent"] == 0


async def test_a_crash_before_the_outbox_took_an_event_re_emits_it_after_restart(
        rig: Rig) -> None:
    await rig.visit("a", at(9, 1))
    rig.fail_emit = True
    decided = await rig.tick(at(9, 12))  # journalled in patrol.db, never reached the outbox
    rig.fail_emit = False
    await rig.start()  # the crash: the in-memory retry is gone, the journal is not
    assert rig.tracker.next_deadline() == at(9, 12)  # at once
    again = await rig.tick(at(9, 12, 5))
    assert [(e.id, e.kind, e.ts) for e in again] == [(d.id, d.kind, d.ts) for d in decided]
    assert again[0].data == decided[0].data
    await rig.start()
    assert await rig.tick(at(9, 12, 10)) == []


async def test_a_dataset_update_mid_round_keeps_the_round_on_its_plan(rig: Rig) -> None:
    await rig.visit("a", at(9, 1))
    v2 = document(2, points=(("a", 0), ("d", 120)), tolerance_s=60)  # b and c leave the route
    assert await rig.tracker.load(v2)
    assert not await rig.tracker.load(document(2))  # not newer: ignored
    assert not await rig.tracker.load(document(1))
    assert what(await rig.visit("b", at(9, 6))) == [("checkpoint", "b:on_time")]
    done = await rig.visit("c", at(9, 11))
    assert what(done)[-1] == ("round_completed", "complete")
    assert done[-1].data["on_time"] == 3  # a, b, c: the plan the round started with
    got = await rig.visit("a", at(11, 0))  # the 11:00 round is planned from version 2
    assert what(got) == [("round_started", ""), ("checkpoint", "a:on_time")]
    assert what(await rig.visit("d", at(11, 3, 30))) == [("checkpoint", "d:late"),  # 2 + 1
                                                     ("round_completed", "complete")]
    await rig.start()  # and after a restart the tracker still has version 2
    assert rig.tracker.plans.version == 2 and "d" in rig.tracker.plans.checkpoints


async def test_rounds_not_yet_started_are_replanned_from_the_new_version(rig: Rig) -> None:
    await rig.tick(at(8, 55))  # the 09:00 round is trackable, not started
    assert await rig.tracker.load(document(2, start_window_s=60))  # a tighter window
    assert await rig.tick(at(9, 0, 59)) == []
    got = await rig.tick(at(9, 1))
    assert what(got) == [("round_missed", "")]
    assert got[0].data["guard"] is None and GUARD not in got[0].data["message"]


async def test_rounds_ended_over_a_day_ago_are_forgotten(rig: Rig) -> None:
    first, second = "day@2026-03-02T01:00:00Z", "day@2026-03-02T03:00:00Z"
    await rig.tick(at(11, 10))
    assert {r.id: r.state for r in rig.tracker.rounds()} == {first: "missed", second: "missed"}
    await rig.tick(at(9, 11, day=3))  # the first ended 09:10 yesterday, the second 11:10
    ids = {r.id for r in rig.tracker.rounds()}
    assert first not in ids and second in ids
    await rig.start()
    assert {r.id for r in rig.tracker.rounds()} == ids  # forgotten in patrol.db too
