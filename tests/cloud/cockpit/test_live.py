"""The cockpit's live feed on SQLite and PostgreSQL: what a wall screen sees when an edge's
batch commits (a ticker item at once, the touched panels recomputed), when a guard resolves an
alarm, when a transaction rolls back (nothing), when the console restarts (1012, then a fresh
snapshot) and when another screen cannot keep up (dropped, the others unaffected).

On PostgreSQL the batches go through an ingest engine of their own (LISTEN/NOTIFY across
connections, as between the ingest worker and a web process).
"""

from __future__ import annotations

import asyncio

import aiohttp

from cloud.cockpit import notify
from cloud.cockpit.live import Timing
from tests.cloud.cockpit.live_rig import T0, Message, live_rig, of_type, until
from tests.cloud.test_alarms_ingest import fire_data
from tests.support.access_site import until as wait_until


def _critical(m: Message) -> int:
    return int(m["panels"]["alarms"]["open"]["critical"])


def alarms_panel(m: Message) -> bool:
    return m["type"] == "panels" and "alarms" in m["panels"]


async def test_a_committed_fire_alarm_reaches_the_wall_as_a_tick_and_a_panel(
        db_url: str) -> None:
    async with live_rig(db_url) as rig:
        edge = rig.edge
        await edge.send(edge.event("gate.opened", {"lane": "东门入口"}))  # the site exists
        ws = await rig.connect()
        snap = await until(ws, of_type("snapshot"))
        assert (snap["view"], snap["data"]["site"]["slug"]) == ("site", "demo")
        assert snap["data"]["panels"]["alarms"]["open"]["critical"] == 0

        await edge.send(edge.event("fire.alarm", fire_data()))
        tick = await until(ws, of_type("tick"))
        assert tick["site"] == "demo"
        assert tick["item"] == {"kind": "fire.alarm", "severity": "critical",
                                "title_zh": tick["item"]["title_zh"],
                                "title_en": tick["item"]["title_en"],
                                "place": "1栋 3层 东侧走廊", "ts": "2026-12-07T06:30:00.000Z"}
        assert tick["item"]["title_zh"] and tick["item"]["title_en"]
        update = await until(ws, lambda m: alarms_panel(m) and _critical(m) == 1)
        assert update["site"] == "demo"
        # Only the touched panels travel: the finance panel does not change with a fire.
        assert "finance" not in update["panels"]

        # A barrier opening is ticker news too, with its lane as the place.
        await edge.send(edge.event("gate.opened", {"lane": "北门出口"}, device="gate-2"))
        gate = await until(ws, of_type("tick"))
        assert (gate["item"]["kind"], gate["item"]["place"], gate["item"]["title_zh"]) == (
            "gate.opened", "北门出口", "道闸抬杆")
        await ws.close()


async def test_a_guard_resolving_an_alarm_updates_the_alarms_panel(db_url: str) -> None:
    async with live_rig(db_url) as rig:
        edge = rig.edge
        await edge.send(edge.event("fire.alarm", fire_data()))
        ws = await rig.connect()
        assert (await until(ws, of_type("snapshot")))["data"]["panels"]["alarms"]["open"][
            "critical"] == 1
        alarms = (await (await rig.client.get("/api/alarms?state=open")).json())["alarms"]
        resp = await rig.client.post(f"/api/alarms/{alarms[0]['id']}/resolve",
                                     json={"note": "复位"})
        assert resp.status == 200
        # (an update from the ingest's own notice may come first: it still shows the alarm)
        update = await until(ws, lambda m: alarms_panel(m) and _critical(m) == 0)
        assert update["site"] == "demo"
        await ws.close()


async def test_a_rolled_back_transaction_announces_nothing(db_url: str) -> None:
    async with live_rig(db_url) as rig:
        edge = rig.edge
        await edge.send(edge.event("gate.opened", {"lane": "东门入口"}))
        ws = await rig.connect()
        await until(ws, of_type("snapshot"))
        item = {"kind": "gate.opened", "severity": "info", "title_zh": "道闸抬杆",
                "title_en": "Barrier opened", "ts": "2026-12-07T06:30:00.000Z"}
        async with edge.sessions() as session:
            async with session.begin():
                await notify.announce(session, "demo", ["gate.opened"],
                                      [item | {"place": "rolled back"}])
                await session.rollback()
        async with edge.sessions() as session, session.begin():
            await notify.announce(session, "demo", ["gate.opened"],
                                  [item | {"place": "committed"}])
        seen: list[Message] = []
        tick = await until(ws, of_type("tick"), seen)
        assert tick["item"]["place"] == "committed"
        assert [m for m in seen if m["type"] == "tick"] == []
        await ws.close()


async def test_the_company_view_hears_every_visible_site(db_url: str) -> None:
    async with live_rig(db_url) as rig:
        edge = rig.edge
        await edge.send(edge.event("gate.opened", {"lane": "东门入口"}))
        ws = await rig.connect("")
        snap = await until(ws, of_type("snapshot"))
        assert snap["view"] == "company"
        [demo] = snap["data"]["sites"]
        assert demo["alarms_open"]["critical"] == 0
        await edge.send(edge.event("fire.alarm", fire_data()))
        assert (await until(ws, of_type("tick")))["item"]["kind"] == "fire.alarm"
        company = await until(
            ws, lambda m: m["type"] == "company"
            and m["data"]["sites"][0]["alarms_open"]["critical"] == 1)
        assert company["data"]["sites"][0]["slug"] == "demo"
        await ws.close()


async def test_every_panel_again_on_the_sweep_and_pings(db_url: str) -> None:
    timing = Timing(coalesce_s=0.05, company_s=0.1, sweep_s=0.3, ping_s=0.2, recheck_s=3600)
    async with live_rig(db_url, timing) as rig:
        edge = rig.edge
        await edge.send(edge.event("gate.opened", {"lane": "东门入口"}))
        ws = await rig.connect()
        snap = await until(ws, of_type("snapshot"))
        assert (await until(ws, of_type("ping")))["ts"]
        sweep = await until(ws, of_type("panels"))
        assert set(sweep["panels"]) == set(snap["data"]["order"])
        await ws.close()


async def test_a_restart_closes_with_1012_and_the_page_starts_again_from_a_snapshot(
        db_url: str) -> None:
    async with live_rig(db_url) as rig:
        edge = rig.edge
        await edge.send(edge.event("fire.alarm", fire_data()))
        ws = await rig.connect()
        await until(ws, of_type("snapshot"))
        await rig.client.server.close()  # the console stops
        async with asyncio.timeout(15):
            # Items sent before the stop (the alarm's tick, panel updates) may still be ahead.
            msg = await ws.receive()
            while msg.type == aiohttp.WSMsgType.TEXT:
                msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (1012, "service restart")
        ingest, seq = rig.ingest_engine, rig.edge.seq
    # The console is back (a new process on the same database): a fresh snapshot.
    async with live_rig(db_url, ingest_engine=ingest) as again:
        again.edge.seq = seq  # the same edge carries on
        ws = await again.connect()
        snap = await until(ws, of_type("snapshot"))
        assert snap["data"]["panels"]["alarms"]["open"]["critical"] == 1
        await again.edge.send(again.edge.event("fire.alarm", fire_data(zone=11)))
        assert (await until(ws, of_type("tick")))["item"]["kind"] == "fire.alarm"
        await ws.close()


async def test_a_slow_screen_is_dropped_and_the_others_get_every_item(db_url: str) -> None:
    async with live_rig(db_url) as rig:
        edge = rig.edge
        await edge.send(edge.event("gate.opened", {"lane": "东门入口"}))
        normal, rig.hub.queue_size = rig.hub.queue_size, 5
        slow = rig.hub.subscribe("demo", None)  # a screen that never reads
        rig.hub.queue_size = normal
        ws = await rig.connect()
        await until(ws, of_type("snapshot"))
        lanes = [f"车道{i}" for i in range(12)]
        await edge.send(*(edge.event("gate.opened", {"lane": lane}) for lane in lanes))
        got = [(await until(ws, of_type("tick")))["item"]["place"] for _ in lanes]
        assert got == lanes
        assert slow.lost and slow not in rig.hub.subs
        assert rig.hub.counters["dropped"] == 1
        await ws.close()


def test_the_notice_stays_under_the_notify_limit() -> None:
    items = [{"kind": "fire.alarm", "severity": "critical", "title_zh": "火警" * 20,
              "title_en": "Fire" * 20, "place": "地" * 80, "ts": T0.isoformat()}] * 50
    text = notify.payload("demo", [f"kind.{i}" * 5 for i in range(300)], items)
    assert len(text.encode()) < 8000
    site, kinds, ticks = notify.parse(text) or ("", set(), [])
    assert site == "demo" and len(ticks) <= notify.MAX_TICKS
    assert kinds == {notify.ALL_KINDS}  # too many kinds to list: every panel
    # Items as the ticker makes them: the newest twenty travel.
    usual = [{"kind": "gate.opened", "severity": "info", "title_zh": "道闸抬杆",
              "title_en": "Barrier opened", "place": f"车道{i}", "ts": T0.isoformat()}
             for i in range(50)]
    parsed = notify.parse(notify.payload("demo", ["gate.opened"], usual))
    assert parsed is not None
    assert [t["place"] for t in parsed[2]] == [f"车道{i}" for i in range(30, 50)]



async def test_a_burst_of_batches_is_one_recompute_for_every_screen(db_url: str) -> None:
    timing = Timing(coalesce_s=2.0, company_s=2.0, sweep_s=3600, ping_s=3600, recheck_s=3600)
    async with live_rig(db_url, timing) as rig:
        edge = rig.edge
        await edge.send(edge.event("gate.opened", {"lane": "东门入口"}))
        screens = [await rig.connect(), await rig.connect()]
        for ws in screens:
            await until(ws, of_type("snapshot"))
        await wait_until(lambda: not rig.hub.pending, "the first batch's notice dealt with")
        before = rig.hub.counters["panel_pushes"]
        for zone in range(5):  # five commits inside one window
            await edge.send(edge.event("fire.alarm", fire_data(zone=30 + zone)))
        first, second = [await until(ws, alarms_panel) for ws in screens]
        assert first == second and _critical(first) == 5
        assert rig.hub.counters["panel_pushes"] - before == 1
        for ws in screens:
            await ws.close()
