"""The uplink against a real Mosquitto and a recording cloud that acks like the real one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt

from contract import Priority, encode_ack, topics
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings, backoff_wait
from tests.edge.helpers_cloud import RecordingCloud, running, wait_until
from tests.edge.helpers_events import access, alarm, reading
from tests.support.services import Mosquitto

SITE = "t1"


def settings(url: str, **kw: object) -> UplinkSettings:
    base: dict[str, object] = {"site": SITE, "mqtt_url": url, "batch_size": 50,
                               "ack_timeout": 30.0, "backoff_initial": 0.1,
                               "backoff_cap": 0.5, "replay_rate": 100_000.0}
    base.update(kw)
    return UplinkSettings(**base)  # type: ignore[arg-type]


async def test_delivers_everything_and_deletes_only_on_ack(tmp_path: Path,
                                                            mosquitto: Mosquitto) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    cloud = RecordingCloud(mosquitto.url, SITE)
    cloud.acking = False
    async with box, running(cloud.run):
        await cloud.subscribed.wait()
        await box.append_many([reading(n=i) for i in range(120)])
        uplink = Uplink(settings(mosquitto.url), box)
        async with running(uplink.run):
            await wait_until(lambda: len(cloud.seqs) == 120, what="all events at the cloud")
            await asyncio.sleep(0.3)
            assert await box.depth() == 120, "nothing may be deleted before an ack"
            cloud.acking = True
            await box.emit(reading(n=999))
            await wait_until(lambda: cloud.watermark == 121, what="watermark 121")
            for _ in range(100):
                if await box.depth() == 0:
                    break
                await asyncio.sleep(0.05)
            assert await box.depth() == 0
            assert uplink.counters.acks >= 1 and uplink.counters.published_events >= 121
            assert cloud.seqs == set(range(1, 122))


async def test_no_ack_means_resend_from_oldest_unacked(tmp_path: Path,
                                                       mosquitto: Mosquitto) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    cloud = RecordingCloud(mosquitto.url, SITE)
    cloud.acking = False
    async with box, running(cloud.run):
        await cloud.subscribed.wait()
        await box.append_many([reading(n=i) for i in range(10)])
        uplink = Uplink(settings(mosquitto.url, ack_timeout=0.4), box)
        async with running(uplink.run):
            await wait_until(lambda: cloud.arrivals.count(1) >= 2, what="seq 1 sent again")
            assert uplink.counters.resends >= 1
            assert await box.depth() == 10
            cloud.acking = True
            await wait_until(lambda: uplink.counters.acks >= 1, what="an ack after a resend")
            resends = uplink.counters.resends
            await asyncio.sleep(1.0)
            assert await box.depth() == 0
            assert uplink.counters.resends == resends, "acked events are not resent"


async def test_a_silent_cloud_gets_one_window_of_events_not_the_whole_backlog(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    cloud = RecordingCloud(mosquitto.url, SITE)
    cloud.acking = False
    async with box, running(cloud.run):
        await cloud.subscribed.wait()
        await box.append_many([reading(n=i) for i in range(1000)])
        uplink = Uplink(settings(mosquitto.url, max_unacked_events=200, ack_timeout=1.5), box)
        async with running(uplink.run):
            await wait_until(lambda: len(cloud.arrivals) >= 200, what="the first window")
            await asyncio.sleep(0.5)
            assert len(cloud.arrivals) == 200, "sending pauses until the ack advances"
            await wait_until(lambda: uplink.counters.resends >= 1, what="a resend")
            await asyncio.sleep(0.5)
            assert len(cloud.arrivals) == 400, "a resend is one window again"
            cloud.acking = True  # the next resend is acked; then the windows follow the acks
            await wait_until(lambda: cloud.watermark == 1000, what="the whole backlog")
            assert cloud.seqs == set(range(1, 1001))


async def test_alarms_first_after_reconnect_and_live_before_replay(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    cloud = RecordingCloud(mosquitto.url, SITE)
    async with box, running(cloud.run):
        await cloud.subscribed.wait()
        # A backlog built while the link was down: telemetry first, alarms and access later.
        await box.append_many([reading(n=i) for i in range(200)])       # 1..200
        await box.append_many([access(n=1), alarm(n=1), alarm(n=2)])    # 201..203
        await box.append_many([reading(n=i) for i in range(200)])       # 204..403
        uplink = Uplink(settings(mosquitto.url, batch_size=20, replay_rate=100.0), box)
        async with running(uplink.run):
            await wait_until(lambda: uplink.connected, what="uplink connected")
            await wait_until(lambda: len(cloud.arrivals) >= 3, what="first events")
            live = await box.append_many([reading(n=7777)])
            live_seq = live[0].seq
            await wait_until(lambda: live_seq in cloud.seqs, within=10, what="live event")
            assert cloud.arrivals[:3] == [202, 203, 201], "alarms, then access, then telemetry"
            assert cloud.batches[0].events[0].priority == Priority.ALARM
            assert len(cloud.seqs) < 300, "the live event must not wait behind the backlog"
            await wait_until(lambda: cloud.watermark == live_seq, within=30,
                             what="everything delivered")
            telemetry = [s for s in cloud.arrivals if s <= 403 and s not in (201, 202, 203)]
            first = [s for s in telemetry if s <= 200]
            assert first == sorted(first), "within a priority, seq order"


async def test_broker_restart_mid_stream_loses_nothing(tmp_path: Path,
                                                       mosquitto: Mosquitto) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db", linger=0.005)
    cloud = RecordingCloud(mosquitto.url, SITE)
    total = 1500
    async with box, running(cloud.run):
        await cloud.subscribed.wait()
        uplink = Uplink(settings(mosquitto.url, ack_timeout=2.0), box)

        async def produce() -> None:
            for i in range(total):
                await box.emit(alarm(n=i) if i % 50 == 0 else reading(n=i))
                if i % 100 == 0:
                    await asyncio.sleep(0.02)

        async with running(uplink.run):
            producer = asyncio.create_task(produce())
            await wait_until(lambda: len(cloud.seqs) > 300, what="stream started")
            await asyncio.to_thread(mosquitto.restart)
            await producer
            await wait_until(lambda: cloud.watermark == total, within=60,
                             what=f"all {total} events acked")
            assert cloud.seqs == set(range(1, total + 1))
            assert uplink.counters.reconnects >= 1
            for _ in range(100):
                if await box.depth() == 0:
                    break
                await asyncio.sleep(0.05)
            assert await box.depth() == 0


async def test_gaps_let_the_cloud_ack_past_dropped_telemetry(tmp_path: Path,
                                                              mosquitto: Mosquitto) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db", budget_bytes=30_000)
    for i in range(5):
        await box.append_many([reading(n=i * 10 + j, pad=800) for j in range(10)])
    dropped = await box.gaps()
    assert dropped, "the budget should have dropped telemetry"
    high = await box.high_water()
    cloud = RecordingCloud(mosquitto.url, SITE)
    async with box, running(cloud.run):
        await cloud.subscribed.wait()
        uplink = Uplink(settings(mosquitto.url), box)
        async with running(uplink.run):
            await wait_until(lambda: cloud.watermark == high, what="watermark past the gaps")
            assert set(cloud.batches[0].gaps) == set(dropped)
            assert any(e.kind == "buffer.dropped" for b in cloud.batches for e in b.events)
            for _ in range(100):
                if await box.depth() == 0:
                    break
                await asyncio.sleep(0.05)
            assert await box.depth() == 0 and await box.gaps() == []


async def test_malformed_downlink_is_counted_and_harmless(tmp_path: Path,
                                                          mosquitto: Mosquitto) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    cloud = RecordingCloud(mosquitto.url, SITE)
    cloud.acking = False
    async with box, running(cloud.run):
        await cloud.subscribed.wait()
        await box.append_many([reading(n=i) for i in range(5)])
        uplink = Uplink(settings(mosquitto.url), box)
        async with running(uplink.run):
            await wait_until(lambda: len(cloud.seqs) == 5, what="events delivered")
            async with aiomqtt.Client(mosquitto.host, mosquitto.port) as other:
                for bad in (b"not json", b'{"upto": -3}', b"[1,2]", b'{"upto": "x"}'):
                    await other.publish(topics.down_ack(SITE), bad, qos=1, timeout=5)
                await other.publish(topics.down_cmd(SITE), b'{"cmd_id": "c1"}', qos=1,
                                    timeout=5)
                await wait_until(lambda: uplink.counters.downlink_malformed == 4,
                                 what="4 malformed downlinks counted")
                await wait_until(lambda: uplink.counters.cmd_messages == 1, what="cmd counted")
                assert await box.depth() == 5
                await other.publish(topics.down_ack(SITE), encode_ack(box.epoch, 3), qos=1,
                                    timeout=5)
            await wait_until(lambda: uplink.counters.acks == 1, what="good ack applied")
            assert [e.seq for e in await box.pending(limit=10)] == [4, 5]
            assert uplink.connected


async def test_readings_wait_to_travel_together_and_an_alarm_takes_them_at_once(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    cloud = RecordingCloud(mosquitto.url, SITE)
    async with box, running(cloud.run):
        await cloud.subscribed.wait()
        # A linger far longer than the test: only urgency can send the readings early.
        uplink = Uplink(settings(mosquitto.url, telemetry_linger=60.0), box)
        async with running(uplink.run):
            await wait_until(lambda: uplink.connected, what="uplink connected")
            for i in range(3):
                await box.emit(reading(n=i))
            await asyncio.sleep(0.5)
            assert not cloud.seqs, "readings alone wait for company"
            await box.emit(alarm(n=1))
            await wait_until(lambda: len(cloud.seqs) == 4, within=10,
                             what="the alarm, with the waiting readings")
            assert len(cloud.batches) == 1, "they travelled in one batch"
            assert cloud.arrivals[0] == 4, "the alarm first"


def test_reconnect_waits_stay_within_a_few_seconds_and_are_spread() -> None:
    s = UplinkSettings(site=SITE, mqtt_url="mqtt://127.0.0.1:1")
    assert (s.backoff_initial, s.backoff_cap) == (0.5, 5.0)
    delay, waits = s.backoff_initial, []
    for _ in range(12):  # a long outage: the delay doubles up to the cap
        waits.append(backoff_wait(delay))
        delay = min(s.backoff_cap, delay * 2)
    assert max(waits) <= 7.5, "an edge is back within 7.5 s of its broker, never 30 s"
    assert min(waits) >= 0.25
    late = [backoff_wait(s.backoff_cap) for _ in range(200)]
    assert min(late) >= 2.5 and max(late) <= 7.5 and max(late) - min(late) > 2.0, \
        "±50 % jitter: edges that lost the same broker do not return in one instant"
