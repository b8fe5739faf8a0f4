"""SiteReceivers against a real Mosquitto: both receiver formats reach the sink, malformed
messages are counted (not raised), other buildings' receivers are not subscribed to, a lost
broker is reconnected, and a cancel stops it even when aiomqtt turns it into MqttError."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiomqtt
import pytest
from structlog.testing import capture_logs

from contract.clock import FakeClock, SystemClock
from drivers.ble.model import Advert
from drivers.ble.site_broker import SiteReceivers
from tests.drivers.ble.vectors import TLM, VECTOR_6, VECTOR_6_TAG
from tests.edge.helpers_cloud import wait_until
from tests.support.services import Mosquitto


@dataclass(frozen=True)
class Receiver:
    id: str
    kind: str
    source: str


RECEIVERS = [Receiver("omg-north", "openmqttgateway", "gw-north"),
             Receiver("esp-gate", "espresense", "north_gate"),
             Receiver("local", "adapter", "hci0")]
ESP_ID = "iBeacon:426c7565-4368-6172-6d42-6561636f6e73-3838-4949"


def _omg(**doc: Any) -> bytes:
    return json.dumps({"id": "AA:BB:CC:DD:EE:FF", "rssi": -70, **doc}).encode()


def _esp() -> bytes:
    return json.dumps({"id": ESP_ID, "rssi": -64, "rssi@1m": -59, "distance": 1.2,
                       "mac": "a0b1c2d3e4f5"}).encode()


@pytest.fixture
async def publisher(mosquitto: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, timeout=5) as client:
        yield client


async def _running(receivers: SiteReceivers) -> asyncio.Task[None]:
    task = asyncio.create_task(receivers.run())
    await wait_until(lambda: receivers.connected, 10, "subscribed to the site broker")
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    async with asyncio.timeout(10):
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_both_formats_reach_the_sink_and_bad_ones_are_counted(
        mosquitto: Mosquitto, publisher: aiomqtt.Client) -> None:
    got: list[Advert] = []
    sr = SiteReceivers(mosquitto.url, RECEIVERS, got.append, SystemClock(), "demo")
    assert sr.filters == ["home/gw-north/BTtoMQTT/+", "espresense/devices/+/north_gate"]
    task = await _running(sr)
    try:
        # a neighbouring building's gateway and room on the same broker: not subscribed to
        await publisher.publish("home/gw-south/BTtoMQTT/AABBCCDDEEFF",
                                _omg(manufacturerdata=VECTOR_6))
        await publisher.publish(f"espresense/devices/{ESP_ID}/south_gate", _esp())
        await publisher.publish("home/gw-north/BTtoMQTT/AABBCCDDEEFF", b"{broken")
        await publisher.publish("home/gw-north/BTtoMQTT/AABBCCDDEEFF",
                                _omg(manufacturerdata=VECTOR_6[:-6]))  # truncated
        await publisher.publish("home/gw-north/BTtoMQTT/AABBCCDDEEFF",
                                _omg(manufacturerdata=VECTOR_6))
        await publisher.publish(f"espresense/devices/{ESP_ID}/north_gate", _esp())
        await publisher.publish("home/gw-north/BTtoMQTT/AABBCCDDEEFF",
                                _omg(servicedata=TLM.hex(), servicedatauuid="0xfeaa"))
        await wait_until(lambda: len(got) == 3, 10, "three adverts at the sink")
        assert [(a.receiver, a.tag, a.mac) for a in got] == [
            ("omg-north", VECTOR_6_TAG, "aa:bb:cc:dd:ee:ff"),
            ("esp-gate", VECTOR_6_TAG, "a0:b1:c2:d3:e4:f5"),
            ("omg-north", None, "aa:bb:cc:dd:ee:ff")]
        assert got[2].battery_mv == 3000
        status = sr.status()
        assert status["connected"] is True
        assert (status["received"], status["malformed"], status["unknown_receiver"]) == (3, 2, 0)
        assert status["last_malformed"] == "ibeacon_length"
    finally:
        await _stop(task)
    assert sr.connected is False


async def test_reconnects_after_the_broker_restarts(
        mosquitto: Mosquitto) -> None:
    got: list[Advert] = []
    sr = SiteReceivers(mosquitto.url, RECEIVERS, got.append, SystemClock(), "demo",
                       backoff_initial=0.1, backoff_cap=0.5, keepalive=5)
    task = await _running(sr)
    try:
        mosquitto.stop()
        await wait_until(lambda: not sr.connected, 15, "the loss of the broker noticed")
        mosquitto.start()
        await wait_until(lambda: sr.connected, 15, "re-subscribed after the restart")
        assert sr.status()["reconnects"] >= 1
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, timeout=5) as pub:
            await pub.publish("home/gw-north/BTtoMQTT/AABBCCDDEEFF",
                              _omg(manufacturerdata=VECTOR_6))
            await wait_until(lambda: len(got) == 1, 10, "an advert after the reconnect")
    finally:
        await _stop(task)


class _LosesTheCancel(aiomqtt.Client):
    """aiomqtt 2.5.1 under load: the disconnect wait times out on the way out of ``async with``
    and MqttError replaces the CancelledError."""

    losing = True

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await super().__aexit__(exc_type, exc, tb)
        if exc_type is asyncio.CancelledError and self.losing:
            raise aiomqtt.MqttError("Operation timed out")


async def test_cancel_stops_even_when_aiomqtt_turns_it_into_mqtt_error(
        mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> None:
    sr = SiteReceivers(mosquitto.url, RECEIVERS, lambda a: None, SystemClock(), "demo",
                       backoff_initial=0.05)
    made: list[aiomqtt.Client] = []

    def client() -> aiomqtt.Client:
        made.append(_LosesTheCancel(mosquitto.host, mosquitto.port, timeout=5))
        return made[-1]

    monkeypatch.setattr(sr, "_client", client)
    task = await _running(sr)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    if not done:  # it reconnected instead: let later cancels through to end the test
        _LosesTheCancel.losing = False
        while not task.done():
            task.cancel()
            await asyncio.sleep(0.05)
        pytest.fail("run() reconnected after a cancel instead of stopping")
    assert task.cancelled()
    assert len(made) == 1 and sr.status()["reconnects"] == 0


async def test_unreachable_broker_is_retried_and_reported() -> None:
    sr = SiteReceivers("mqtt://127.0.0.1:9", RECEIVERS, lambda a: None, SystemClock(), "demo",
                       backoff_initial=0.05, backoff_cap=0.1, connect_timeout=2)
    task = asyncio.create_task(sr.run())
    try:
        await wait_until(lambda: sr.counters.reconnects >= 2, 10, "two failed attempts")
        status = sr.status()
        assert status["connected"] is False and status["last_error"]
    finally:
        await _stop(task)


def test_malformed_logged_once_per_10s_per_receiver_and_a_failing_sink_is_survived() -> None:
    clock = FakeClock()
    calls: list[Advert] = []

    def sink(a: Advert) -> None:
        calls.append(a)
        raise RuntimeError("presence bug")

    sr = SiteReceivers("mqtt://127.0.0.1:1883", RECEIVERS, sink, clock, "demo")
    topic = "home/gw-north/BTtoMQTT/AABBCCDDEEFF"
    with capture_logs() as logs:
        for _ in range(3):
            assert sr.handle(topic, b"nope") is None
        clock.advance(10)
        sr.handle(topic, b"nope")
        sr.handle(topic, _omg(manufacturerdata=VECTOR_6))
        sr.handle(topic, _omg(manufacturerdata=VECTOR_6))
    malformed = [e for e in logs if e["event"] == "malformed advert"]
    assert len(malformed) == 2 and malformed[0]["receiver"] == "omg-north"
    assert malformed[0]["reason"] == "bad_json"
    assert sr.counters.malformed == 4
    assert len(calls) == 2 and sr.counters.sink_errors == 2 and sr.counters.received == 2


def test_a_source_that_cannot_be_a_topic_level_is_refused() -> None:
    with pytest.raises(ValueError, match="topic level"):
        SiteReceivers("mqtt://127.0.0.1:1883", [Receiver("x", "espresense", "hall/#")],
                      lambda a: None, SystemClock(), "demo")
