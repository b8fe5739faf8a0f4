"""The walkers against a real Mosquitto (a private one per test): what an edge subscribed to
the site broker would receive, losing the broker, and stopping."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import pytest

from simulators.patrol.config import PatrolSpec, patrol_of
from simulators.patrol.publisher import SiteBrokerPublisher
from simulators.patrol.run import (
    PatrolOptions,
    SimTime,
    build_engine,
    load_patrol,
    run_patrol,
    walk_and_publish,
)
from tests.simulators.patrol.conftest import EDDYSTONE, IBEACON, VECTOR6_UUID, patrol_section
from tests.support.services import Mosquitto

ROUTE = ("omg-north", "omg-east", "esp-b1")


async def wait_until(cond: Callable[[], bool], within: float = 15.0, what: str = "") -> None:
    try:
        async with asyncio.timeout(within):
            while not cond():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {within}s waiting for {what}") from None


@contextlib.asynccontextmanager
async def listening(m: Mosquitto) -> AsyncIterator[list[tuple[str, dict[str, object]]]]:
    """Everything the receivers publish, as the edge's subscriber would see it."""
    got: list[tuple[str, dict[str, object]]] = []
    async with aiomqtt.Client(m.host, m.port, timeout=5) as client:
        await client.subscribe("home/+/BTtoMQTT/+")
        await client.subscribe("espresense/devices/+/+")

        async def collect() -> None:
            async for msg in client.messages:
                assert isinstance(msg.payload, bytes)
                got.append((str(msg.topic), json.loads(msg.payload)))

        task = asyncio.create_task(collect())
        try:
            yield got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def site_spec(m: Mosquitto) -> PatrolSpec:
    spec = patrol_of(patrol_section(m.url))
    assert spec is not None
    return spec


def opts(*scenario: str, tags: tuple[str, ...] = (IBEACON,), loop: bool = False,
         speedup: float = 25.0) -> PatrolOptions:
    return PatrolOptions(scenario=scenario or ("perfect",), route=ROUTE, tags=tags, loop=loop,
                         stay_s=4.0, start_after_s=0.5, speedup=speedup)


async def test_perfect_walk_publishes_each_receivers_format_for_both_tag_kinds(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    from tests.simulators.patrol.conftest import site_yaml

    spec = load_patrol(site_yaml(tmp_path, mosquitto.url))  # the file's patrol section
    lines: list[str] = []
    async with listening(mosquitto) as got:
        async with asyncio.timeout(30):
            await run_patrol(spec, opts(tags=(IBEACON, EDDYSTONE)), say=lines.append)
        await wait_until(lambda: any(t.startswith("espresense/") for t, _ in got[-20:]),
                         what="the last adverts")
    north = [p for t, p in got if t.startswith("home/omg_north/BTtoMQTT/")]
    east = [p for t, p in got if t.startswith("home/omg_east/BTtoMQTT/")]
    b1 = [(t, p) for t, p in got if t.startswith("espresense/devices/")]
    vector6 = "4c000215426c7565436861726d426561636f6e730efe1355c5"
    assert any(p.get("manufacturerdata") == vector6 and "model_id" not in p for p in north)
    assert any(str(p.get("servicedata", "")).startswith("00") for p in north)  # Eddystone UID
    assert any(p.get("model_id") == "IBEACON" and p.get("major") == 3838 for p in east)
    assert any(str(p.get("servicedata", "")).startswith("20") for p in east + north)  # TLM
    ids = {p["id"] for _, p in b1}
    assert ids == {f"iBeacon:{VECTOR6_UUID}-3838-4949",
                   "eddy:8b0ca750e7a74e14bd99-000000000707"}
    assert all(t.endswith("/b1_lobby") for t, _ in b1)
    assert not [t for t, _ in got if "far_gate" in t]
    assert any("connected to the site broker" in ln for ln in lines)
    assert any("at receiver esp-b1" in ln for ln in lines)


async def test_silent_receiver_sends_nothing_while_the_others_do(mosquitto: Mosquitto) -> None:
    async with listening(mosquitto) as got:
        async with asyncio.timeout(30):
            await run_patrol(site_spec(mosquitto), opts("silent:esp-b1@0"), say=lambda _: None)
        await wait_until(lambda: len(got) > 20, what="omg adverts")
    assert not [t for t, _ in got if t.startswith("espresense/")]


async def test_a_lost_broker_costs_adverts_not_the_walk(mosquitto: Mosquitto) -> None:
    spec = site_spec(mosquitto)
    engine = build_engine(spec, opts(loop=True, speedup=10.0), say=lambda _: None)
    lines: list[str] = []
    async with SiteBrokerPublisher(spec.host, spec.port, say=lines.append) as pub:
        await asyncio.wait_for(pub.connected.wait(), 5)
        clock = SimTime(10.0)
        walker = asyncio.create_task(walk_and_publish(engine, pub, clock))
        await wait_until(lambda: pub.sent > 5, what="adverts before the outage")
        await asyncio.to_thread(mosquitto.stop)
        await wait_until(lambda: not pub.connected.is_set(), what="the outage noticed")
        before = pub.dropped
        await wait_until(lambda: pub.dropped > before, what="adverts dropped meanwhile")
        await asyncio.to_thread(mosquitto.start)
        await wait_until(pub.connected.is_set, within=20, what="reconnected")
        async with listening(mosquitto) as got:
            await wait_until(lambda: len(got) > 5, what="adverts after the outage")
        walker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await walker
    assert any("unreachable" in ln for ln in lines)
    assert sum("connected to the site broker" in ln for ln in lines) == 2


async def test_cancel_stops_the_walkers_promptly(mosquitto: Mosquitto) -> None:
    task = asyncio.create_task(run_patrol(site_spec(mosquitto), opts(loop=True),
                                          say=lambda _: None))
    await asyncio.sleep(0.5)
    task.cancel()
    async with asyncio.timeout(3):
        with pytest.raises(asyncio.CancelledError):
            await task
