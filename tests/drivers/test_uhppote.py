"""The 微耕/UHPPOTE driver against simulated controllers over real UDP on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from pathlib import Path
from typing import Any

import pytest

from contract import Kind
from drivers.access.cursors import FileCursors
from drivers.access.uhppote_client import ControllerError, UhppoteClient
from drivers.access.uhppote_model import CardSpec, TimeProfileSpec
from simulators.access import uhppote_wire as w
from tests.support.uhppote_rig import SERIALS, TZ, rig

C1 = SERIALS[0]


async def test_start_points_the_controllers_at_the_edge_and_sets_their_clock() -> None:
    async with rig() as r:
        assert r.driver is not None and r.driver.listen_address is not None
        for sim in r.sims.values():
            assert sim.state.listener == r.driver.listen_address
            assert sim.state.special_events is True
            drift = abs((sim.state.now() - dt.datetime.now(TZ).replace(tzinfo=None))
                        .total_seconds())
            assert drift < 2
        assert r.driver.online == {"c1": True, "c2": True}


async def test_swipes_become_granted_and_denied_events_with_the_reason() -> None:
    async with rig() as r:
        sim = r.sims["c1"]
        assert r.driver is not None
        today = dt.date.today()
        await r.driver.client.put_card(r.config.controller("c1"), _card(10058400, today))
        sim.swipe(10058400, 1)
        sim.swipe(10058400, 3)           # no permission on door 3
        sim.swipe(777, 2)                # not enrolled
        await r.until(lambda: len(r.outbox.indexes(C1)) == 3, what="3 swipes")
        granted = r.outbox.of(Kind.ACCESS_GRANTED)
        denied = r.outbox.of(Kind.ACCESS_DENIED)
        assert [(e.device, e.data["credential"]) for e in granted] == [("1-east", "10058400")]
        assert [(e.device, e.data["reason"]) for e in denied] == [
            ("1-lobby", "no_privilege"), ("1-west", "denied")]
        assert granted[0].data["building"] == "1" and granted[0].ts.tzinfo is not None


async def test_door_sensor_button_forced_and_held_open() -> None:
    async with rig(held_open_after=0.3) as r:
        sim = r.sims["c1"]
        sim.press_button(1)              # releases the lock, recorded as door.button
        sim.open_door(1)                 # lock released: opened, not forced
        sim.close_door(1)
        sim.open_door(2)                 # lock never released: forced
        await r.until(lambda: bool(r.outbox.of(Kind.DOOR_HELD_OPEN)), what="held open")
        sim.close_door(2)
        await r.until(lambda: len(r.outbox.of(Kind.DOOR_CLOSED)) == 2, what="closed twice")
        kinds = [(e.kind, e.device) for e in r.outbox.events]
        assert kinds == [
            (Kind.DOOR_BUTTON, "1-east"), (Kind.DOOR_OPENED, "1-east"),
            (Kind.DOOR_CLOSED, "1-east"), (Kind.DOOR_FORCED, "1-west"),
            (Kind.DOOR_OPENED, "1-west"), (Kind.DOOR_HELD_OPEN, "1-west"),
            (Kind.DOOR_CLOSED, "1-west")]


async def test_lost_pushes_are_read_back_by_index_once_each() -> None:
    async with rig() as r:
        sim = r.sims["c1"]
        sim.swipe(1, 1)
        sim.pushes = False               # the next three datagrams never arrive
        for card in (2, 3, 4):
            sim.swipe(card, 1)
        sim.pushes = True
        sim.swipe(5, 1)                  # arrives with index 5: 2–4 are read first
        await r.until(lambda: len(r.outbox.indexes(C1)) >= 5, what="5 events")
        sim.pushes = False
        sim.swipe(6, 2)                  # only the status poll finds this one
        await r.until(lambda: len(r.outbox.indexes(C1)) >= 6, what="the polled one")
        assert r.outbox.indexes(C1) == [1, 2, 3, 4, 5, 6]
        assert [e.data["credential"] for e in r.outbox.events] == ["1", "2", "3", "4", "5", "6"]
        assert r.driver is not None and r.driver.stats.get("uhppote_caught_up") >= 4


async def test_an_edge_restart_reads_back_what_happened_while_it_was_down(
        tmp_path: Path) -> None:
    cursors = FileCursors(tmp_path / "uhppote.json")
    async with rig(cursors=cursors) as r:
        sim = r.sims["c1"]
        sim.swipe(11, 1)
        await r.until(lambda: r.outbox.indexes(C1) == [1], what="first event")
        await r.stop_driver()
        for card in (12, 13, 14):        # pushed to nobody: the edge is down
            sim.swipe(card, 1)
        r.cursors = FileCursors(tmp_path / "uhppote.json")   # a new edge process
        assert r.cursors.get(C1) == 1
        await r.start_driver()
        await r.until(lambda: len(r.outbox.indexes(C1)) >= 4, what="caught up")
        sim.swipe(15, 1)
        await r.until(lambda: len(r.outbox.indexes(C1)) >= 5, what="live again")
        assert r.outbox.indexes(C1) == [1, 2, 3, 4, 5]
        assert len({e.id for e in r.outbox.events}) == 5


async def test_a_repeated_push_is_dropped_and_a_malformed_datagram_counted() -> None:
    async with rig() as r:
        assert r.driver is not None and r.driver.listen_address is not None
        sim = r.sims["c1"]
        sim.swipe(21, 1)
        await r.until(lambda: r.outbox.indexes(C1) == [1], what="first")
        event = w.reply(w.EVENT, C1)
        w.put_u32(event, w.STATUS_EVENT_INDEX, 1)   # index 1 again
        event[w.STATUS_EVENT_TYPE] = w.TYPE_SWIPE
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((sim.host, 0))  # from the controller's own address
            s.sendto(bytes(event), r.driver.listen_address)
            s.sendto(b"\x17\x20garbage", r.driver.listen_address)
            s.sendto(b"\x00" * 64, r.driver.listen_address)
        await r.until(lambda: r.driver is not None
                      and r.driver.stats.get("uhppote_malformed") == 2
                      and r.driver.stats.get("uhppote_repeats") == 1, what="counted")
        sim.swipe(22, 1)
        await r.until(lambda: r.outbox.indexes(C1) == [1, 2], what="still running")


async def test_a_forged_event_from_another_address_is_dropped_and_hides_nothing() -> None:
    """An attacker on the LAN names the controller's serial with a far-ahead event index: were
    it believed, the cursor would jump and the controller's real events would be dropped as
    repeats."""
    async with rig() as r:
        assert r.driver is not None and r.driver.listen_address is not None
        sim = r.sims["c1"]
        sim.swipe(21, 1)
        await r.until(lambda: r.outbox.indexes(C1) == [1], what="first")
        forged = w.reply(w.EVENT, C1)
        w.put_u32(forged, w.STATUS_EVENT_INDEX, 1000)
        forged[w.STATUS_EVENT_TYPE] = w.TYPE_SWIPE
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))  # not the controller's address
            s.sendto(bytes(forged), r.driver.listen_address)
        await r.until(lambda: r.driver is not None
                      and r.driver.stats.get("uhppote_wrong_peer") == 1, what="refused")
        sim.swipe(22, 1)
        await r.until(lambda: r.outbox.indexes(C1) == [1, 2], what="the real next event")
        assert 1000 not in r.outbox.indexes(C1)


async def test_a_silent_controller_goes_offline_once_and_comes_back() -> None:
    async with rig() as r:
        sim = r.sims["c2"]
        sim.answering = False
        await r.until(lambda: bool(r.outbox.of(Kind.CONTROLLER_OFFLINE)), what="offline")
        fails = r.driver.stats.get("uhppote_request_errors") if r.driver else 0
        await r.until(lambda: r.driver is not None
                      and r.driver.stats.get("uhppote_request_errors") >= fails + 2,
                      what="more failed polls")
        sim.state.listener = ("0.0.0.0", 0)   # it rebooted and forgot the listener
        sim.answering = True
        await r.until(lambda: bool(r.outbox.of(Kind.CONTROLLER_ONLINE)), what="online")
        await r.until(lambda: sim.state.listener[1] != 0, what="listener set again")
        assert len(r.outbox.of(Kind.CONTROLLER_OFFLINE)) == 1
        [back] = r.outbox.of(Kind.CONTROLLER_ONLINE)  # the restore the offline alarm pairs with
        assert (back.device, back.data["controller"]) == ("c2", sim.state.serial)
        assert r.outbox.of(Kind.DEVICE_ONLINE) == []
        assert r.outbox.of(Kind.CONTROLLER_OFFLINE)[0].device == "c2"
        assert r.driver is not None and r.driver.online["c1"] is True


async def test_open_door_and_door_modes_reach_the_controller() -> None:
    async with rig() as r:
        assert r.driver is not None
        sim = r.sims["c1"]
        await r.driver.open_door("1-west")
        assert sim.state.doors[2].unlocked
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_GRANTED)), what="remote open event")
        assert r.outbox.of(Kind.ACCESS_GRANTED)[0].data["credential"] == "remote"
        assert await r.driver.set_door_mode("1-east", "normally_open") == ("normally_open", 3)
        assert sim.state.doors[1].mode == w.NORMALLY_OPEN
        assert await r.driver.set_door_mode("1-east", "normally_closed", 7) == (
            "normally_closed", 7)
        sim.swipe(1, 1)
        await r.until(lambda: bool(r.outbox.of(Kind.ACCESS_DENIED)), what="denied")
        assert r.outbox.of(Kind.ACCESS_DENIED)[0].data["reason"] == "normally_closed"
        assert await r.driver.door_mode("1-east") == ("normally_closed", 7)


def _card(number: int, today: dt.date, doors: dict[int, int] | None = None) -> CardSpec:
    return CardSpec(number, today - dt.timedelta(days=1), today + dt.timedelta(days=30),
                    {1: 1, 2: 1} if doors is None else doors)


async def test_time_profiles_decide_when_a_card_opens_a_door() -> None:
    async with rig() as r:
        assert r.driver is not None
        client, c = r.driver.client, r.config.controller("c1")
        sim = r.sims["c1"]
        today = sim.state.now().date()
        weekday = today.weekday()
        always = TimeProfileSpec(29, today - dt.timedelta(days=1), today + dt.timedelta(days=9))
        other_days = TimeProfileSpec(30, always.start, always.end,
                                     frozenset(range(7)) - {weekday},
                                     ((dt.time(8, 0), dt.time(12, 0)),
                                      (dt.time(13, 0), dt.time(18, 0))), linked=0)
        await client.set_time_profile(c, always)
        await client.set_time_profile(c, other_days)
        assert await client.get_time_profile(c, 30) == other_days
        assert await client.get_time_profile(c, 31) is None
        await client.put_card(c, _card(501, today, {1: 29, 2: 30, 3: 31}))
        for door in (1, 2, 3):
            sim.swipe(501, door)
        await r.until(lambda: len(r.outbox.indexes(C1)) == 3, what="3 swipes")
        assert [(e.kind, e.data.get("reason")) for e in r.outbox.events] == [
            (Kind.ACCESS_GRANTED, None), (Kind.ACCESS_DENIED, "time_profile"),
            (Kind.ACCESS_DENIED, "time_profile")]
        assert await client.clear_time_profiles(c) and not sim.state.profiles


async def test_a_controller_whose_log_restarted_is_read_from_its_first_event() -> None:
    async with rig() as r:
        sim = r.sims["c1"]
        for card in (1, 2, 3):
            sim.swipe(card, 1)
        await r.until(lambda: r.outbox.indexes(C1) == [1, 2, 3], what="three")
        sim.state.events.clear()             # a replaced board with the same serial
        sim.state.first_index = 1
        sim.swipe(7, 1)                      # index 1 again: pushed, taken as a repeat …
        sim.swipe(8, 1)
        await r.until(lambda: r.outbox.indexes(C1) == [1, 2, 3, 1, 2], what="read back")
        assert [e.data["credential"] for e in r.outbox.events][3:] == ["7", "8"]
        assert r.driver is not None and r.driver.stats.get("uhppote_log_reset") == 1


async def test_the_driver_syncs_a_controllers_cards_and_its_swipes_follow() -> None:
    async with rig() as r:
        assert r.driver is not None
        today = dt.date.today()
        report = await r.driver.sync_cards("c2", [_card(n, today) for n in range(1, 201)])
        assert report.summary()["verified"] == 200 and report.in_step
        revoked = await r.driver.sync_cards("c2", [_card(n, today) for n in range(1, 200)])
        assert (revoked.deleted, revoked.unchanged) == ([200], 199)
        sim = r.sims["c2"]
        sim.swipe(199, 1)
        sim.swipe(200, 1)
        await r.until(lambda: len(r.outbox.indexes(SERIALS[1])) == 2, what="two swipes")
        assert [e.kind for e in r.outbox.events] == [Kind.ACCESS_GRANTED, Kind.ACCESS_DENIED]


async def test_a_cancel_uhppoted_turns_into_a_timeout_still_stops_the_driver(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """uhppoted awaits ``asyncio.wait_for``; on 3.11 a cancel that meets a silent controller's
    timeout can come back as a TimeoutError, which the driver takes as "no reply" and retries.
    The edge must still shut down (this hung a fire-linkage test)."""
    original = UhppoteClient.call
    swallowed: list[bool] = []

    async def swallowing(self: UhppoteClient, *args: Any) -> Any:
        try:
            return await original(self, *args)
        except asyncio.CancelledError:
            swallowed.append(True)
            raise ControllerError("get_status: UDP request timeout") from None

    monkeypatch.setattr(UhppoteClient, "call", swallowing)
    async with rig(poll_interval=0.05) as r:
        r.sims["c1"].answering = False
        for _ in range(50):  # until a cancel lands inside a request (the case that hung)
            task = r.task
            assert task is not None
            await asyncio.sleep(0.05)
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=30)
            assert done, "the driver kept running after it was cancelled"
            r.task = None
            if swallowed:
                break
            await r.start_driver()
        assert swallowed, "no cancel landed inside a request: the test proved nothing"
