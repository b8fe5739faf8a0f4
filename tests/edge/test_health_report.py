"""The edge's health report on a real Mosquitto: what the console would receive on up/health
says how many events the outbox holds and how old the oldest is, drops after an ack, comes
right after each (re)connect, and a report that cannot be built never stops the events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from contract import FakeClock, encode_ack, topics
from contract.health import DeviceCount, Health, ReceiverCount, decode_health
from edge.app import EdgeApp
from edge.health_report import HealthReporter, family_counts, heard_receivers
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.edge.helpers_cloud import RecordingCloud, running, wait_until
from tests.edge.helpers_events import alarm, reading
from tests.edge.helpers_site import silent_meter_site
from tests.support.services import Mosquitto, free_port

SITE = "h1"


class HealthListener:
    """Subscribes to the site's up/health and keeps every report (decoded: a report the
    console would refuse fails the test)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.reports: list[Health] = []
        self.retained: list[bool] = []
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        host, port = self.url.removeprefix("mqtt://").split(":")
        ident = f"health-{uuid.uuid4().hex[:8]}"
        while True:  # a persistent session: what is sent while it reconnects waits for it
            try:
                async with aiomqtt.Client(host, int(port), timeout=5, identifier=ident,
                                          clean_session=False,
                                          protocol=aiomqtt.ProtocolVersion.V311) as c:
                    await c.subscribe(topics.up_health(SITE), qos=1, timeout=5)
                    self.subscribed.set()
                    async for msg in c.messages:
                        assert isinstance(msg.payload, bytes)
                        self.retained.append(bool(msg.retain))
                        self.reports.append(decode_health(msg.payload))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)


def settings(url: str) -> UplinkSettings:
    return UplinkSettings(site=SITE, mqtt_url=url, backoff_initial=0.1, backoff_cap=0.3,
                          replay_rate=100_000.0)


@pytest.fixture
async def listener(mosquitto: Mosquitto) -> AsyncIterator[HealthListener]:
    hl = HealthListener(mosquitto.url)
    async with running(hl.run):
        await hl.subscribed.wait()
        yield hl


async def test_the_report_shows_the_outbox_and_drops_after_the_ack(
        tmp_path: Path, mosquitto: Mosquitto, listener: HealthListener) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    async with box:
        before = datetime.now(UTC)
        await box.append_many([reading(n=i) for i in range(5)] + [alarm(n=1)])
        after = datetime.now(UTC)
        clock = FakeClock(after + timedelta(seconds=42))  # the edge's clock, 42 s later
        uplink = Uplink(settings(mosquitto.url), box)  # nobody acks: the events stay
        reporter = HealthReporter(
            SITE, box, clock, interval_s=0.2, version="test-1",
            devices=lambda: {"meter": DeviceCount(3, 4), "elevator": DeviceCount(0, 1)},
            receivers=lambda: ReceiverCount(2, 3))
        uplink.session_jobs["uplink-health"] = reporter.run
        async with running(uplink.run):
            await wait_until(lambda: len(listener.reports) >= 1, what="a health report")
            first = listener.reports[0]
            assert first.outbox.depth == 6
            assert first.outbox.oldest_ts is not None
            assert before <= first.outbox.oldest_ts <= after
            assert first.outbox.oldest_age_s is not None
            assert 42.0 <= first.outbox.oldest_age_s <= 42.0 + (after - before).total_seconds()
            assert first.devices == {"meter": DeviceCount(3, 4), "elevator": DeviceCount(0, 1)}
            assert first.patrol_receivers == ReceiverCount(2, 3)
            assert first.ts == clock.now() and first.version == "test-1"
            assert listener.retained[0] is False, "a report is never retained at the broker"

            # The console acks the first four: the next report holds two, the oldest later.
            async with aiomqtt.Client(mosquitto.host, mosquitto.port, timeout=5) as cloud:
                await cloud.publish(topics.down_ack(SITE), encode_ack(box.epoch, 4), qos=1,
                                    timeout=5)
            await wait_until(lambda: listener.reports[-1].outbox.depth == 2,
                             what="a report after the ack")
            assert await box.depth() == 2
            # Then everything: the outbox is empty and has no oldest event.
            async with aiomqtt.Client(mosquitto.host, mosquitto.port, timeout=5) as cloud:
                await cloud.publish(topics.down_ack(SITE), encode_ack(box.epoch, 6), qos=1,
                                    timeout=5)
            await wait_until(lambda: listener.reports[-1].outbox.depth == 0,
                             what="a report of an empty outbox")
            last = listener.reports[-1]
            assert last.outbox.oldest_ts is None and last.outbox.oldest_age_s is None
            assert reporter.counters.sent >= 3
            assert reporter.counters.build_failed == reporter.counters.publish_failed == 0


async def test_a_report_goes_out_right_after_every_reconnect(
        tmp_path: Path, mosquitto: Mosquitto, listener: HealthListener) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    async with box:
        uplink = Uplink(settings(mosquitto.url), box)
        reporter = HealthReporter(SITE, box, FakeClock(), interval_s=3600.0)  # never by time
        uplink.session_jobs["uplink-health"] = reporter.run
        async with running(uplink.run):
            await wait_until(lambda: len(listener.reports) == 1, what="the report on connect")
            mosquitto.restart()
            await wait_until(lambda: uplink.counters.reconnects >= 1, what="a reconnect")
            await wait_until(lambda: len(listener.reports) == 2, within=20,
                             what="the report after the reconnect")
            assert uplink.connected and reporter.counters.sent == 2  # a new one, not a resend


async def test_a_report_that_cannot_be_built_never_stops_the_events(
        tmp_path: Path, mosquitto: Mosquitto, listener: HealthListener) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    cloud = RecordingCloud(mosquitto.url, SITE)
    broken_devices = True

    def devices() -> dict[str, DeviceCount]:
        if broken_devices:
            raise RuntimeError("a driver's state is broken")
        return {"meter": DeviceCount(5, 4)}  # more online than configured: not a report

    async with box, running(cloud.run):
        await cloud.subscribed.wait()
        uplink = Uplink(settings(mosquitto.url), box)
        reporter = HealthReporter(SITE, box, FakeClock(), interval_s=0.1, devices=devices)
        uplink.session_jobs["uplink-health"] = reporter.run
        async with running(uplink.run):
            # A part that raises is left out; the outbox numbers still go out.
            await wait_until(lambda: len(listener.reports) >= 1, what="a partial report")
            assert listener.reports[0].devices == {}
            assert reporter.counters.part_failed >= 1
            # A report the contract refuses is never sent; the events still flow and ack.
            broken_devices = False
            sent = reporter.counters.sent
            await wait_until(lambda: reporter.counters.build_failed >= 2,
                             what="refused reports counted")
            await box.append_many([reading(n=i) for i in range(20)])
            await wait_until(lambda: cloud.watermark == 20, what="events delivered and acked")
            assert uplink.connected and uplink.counters.reconnects == 0
            assert reporter.counters.sent <= sent + 1  # at most one built before the switch


def test_families_count_what_the_parts_know() -> None:
    counts = family_counts(meters=[{"m1": True, "m2": False}, {"m3": True}], meters_total=4,
                           access=[True, None], elevators=[], gates=[False])
    # m4 never answered (its bus has not run yet): still one of the four meters.
    assert counts == {"meter": DeviceCount(2, 4), "access": DeviceCount(1, 2),
                      "gate": DeviceCount(0, 1)}
    assert "elevator" not in counts, "a family with no device is not reported as 0 of 0"
    assert heard_receivers({"r1": {"state": "heard"}, "r2": {"state": "silent"}}) == \
        ReceiverCount(1, 2)


async def test_the_edge_app_reports_its_meters_and_outbox(
        tmp_path: Path, mosquitto: Mosquitto, listener: HealthListener) -> None:
    cfg = silent_meter_site(SITE, tmp_path / "edge-data", mosquitto.url, free_port(),
                            free_port())
    app = EdgeApp(cfg, uplink_overrides={"backoff_initial": 0.1}, health_interval_s=0.2)
    task = asyncio.create_task(app.run())  # nobody acks: the meter's offline event stays
    try:
        await wait_until(lambda: any(r.outbox.depth >= 1 for r in listener.reports),
                         within=20, what="a report of the unacked device.offline")
        report = next(r for r in listener.reports if r.outbox.depth >= 1)
        assert report.devices == {"meter": DeviceCount(0, 1)}, "its only meter never answers"
        assert report.patrol_receivers is None, "this site has no patrol"
        assert report.outbox.oldest_age_s is not None and report.outbox.oldest_age_s >= 0
    finally:
        app.request_stop()
        async with asyncio.timeout(15):
            await task
