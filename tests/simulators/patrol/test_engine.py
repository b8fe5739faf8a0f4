"""The walkers without time: what the receivers publish as a guard walks, per scenario.
``enter`` is the edge's default enter level (rssi_at_1m − 12 dB): hearing a tag above it is
what counts as being at a receiver."""

from __future__ import annotations

import json
import random
import statistics

import pytest

from simulators.patrol.config import PatrolSpec
from simulators.patrol.engine import Message, PatrolEngine
from simulators.patrol.radio import RadioModel
from simulators.patrol.run import PatrolOptions, build_engine
from tests.simulators.patrol.conftest import EDDYSTONE, IBEACON, VECTOR6_UUID

ROUTE = ("omg-north", "omg-east", "esp-b1")
ESP_ID = f"iBeacon:{VECTOR6_UUID}-3838-4949"


def make(spec: PatrolSpec, *scenario: str, tags: tuple[str, ...] = (IBEACON,),
         route: tuple[str, ...] = ROUTE, lines: list[str] | None = None) -> PatrolEngine:
    opts = PatrolOptions(scenario=scenario or ("perfect",), route=route, tags=tags,
                         start_after_s=2.0, stay_s=8.0)
    return build_engine(spec, opts, say=(lines if lines is not None else []).append)


def walk(engine: PatrolEngine) -> list[Message]:
    out = engine.run_until(10_000)
    assert engine.next_at() is None, "the walk should end"
    return out


def entered(spec: PatrolSpec, msgs: list[Message], rid: str) -> list[Message]:
    level = spec.receiver(rid).rssi_at_1m - 12
    return [m for m in msgs if m.receiver == rid and m.rssi >= level]


def test_rssi_falls_with_distance_on_average_and_packets_get_lost() -> None:
    radio = RadioModel(rng=random.Random(3), drop=0.0)
    means = [statistics.fmean(r for _ in range(400) if (r := radio.hear(-59, d)) is not None)
             for d in (1, 3, 10, 30)]
    assert means == sorted(means, reverse=True)
    assert means[0] == pytest.approx(-59, abs=0.6)
    assert means[2] == pytest.approx(-59 - 22, abs=0.6)  # n = 2.2: 22 dB per decade
    lossy = RadioModel(rng=random.Random(4))
    lost = sum(lossy.hear(-59, 1) is None for _ in range(3000)) / 3000
    assert 0.08 < lost < 0.12
    assert all(lossy.hear(-59, 2000) is None for _ in range(100))  # under −100 dBm


def test_perfect_walk_reaches_each_receiver_in_route_order(spec: PatrolSpec) -> None:
    lines: list[str] = []
    msgs = walk(make(spec, lines=lines))
    firsts = [min(m.at for m in entered(spec, msgs, rid)) for rid in ROUTE]
    assert firsts == sorted(firsts)
    for rid in ROUTE:
        assert len(entered(spec, msgs, rid)) >= 5, rid  # enough for a 5 s dwell
    assert not [m for m in msgs if m.receiver in ("esp-far", "box")]
    arrivals = [ln for ln in lines if "到达接收器" in ln]
    assert [next(r for r in ROUTE if f"at receiver {r} " in ln) for ln in arrivals] == list(ROUTE)
    assert "finished the route" in lines[-1]


def test_each_receiver_publishes_in_its_own_format(spec: PatrolSpec) -> None:
    msgs = walk(make(spec))
    by = {rid: [json.loads(m.payload) for m in msgs if m.receiver == rid] for rid in ROUTE}
    assert all("model_id" not in p and p["manufacturerdata"].startswith("4c000215")
               for p in by["omg-north"])
    assert all(p["model_id"] == "IBEACON" and p["major"] == 3838 for p in by["omg-east"])
    assert {p["id"] for p in by["esp-b1"]} == {ESP_ID}
    topics = {m.topic.rsplit("/", 1)[0] for m in msgs}
    assert topics == {"home/omg_north/BTtoMQTT", "home/omg_east/BTtoMQTT",
                      f"espresense/devices/{ESP_ID}"}


def test_skipped_checkpoint_never_hears_the_guard_close(spec: PatrolSpec) -> None:
    lines: list[str] = []
    msgs = walk(make(spec, "skip:omg-east", lines=lines))
    assert not entered(spec, msgs, "omg-east")
    assert entered(spec, msgs, "omg-north") and entered(spec, msgs, "esp-b1")
    assert not any("receiver omg-east" in ln for ln in lines)


def test_late_round_starts_late(spec: PatrolSpec) -> None:
    msgs = walk(make(spec, "late:120"))
    assert min(m.at for m in msgs) >= 122.0
    assert min(m.at for m in entered(spec, msgs, "omg-north")) < 123.5


def test_cloned_tag_is_heard_far_apart_within_seconds(spec: PatrolSpec) -> None:
    lines: list[str] = []
    msgs = walk(make(spec, "cloned", lines=lines))
    far = entered(spec, msgs, "esp-far")  # 300 m from the first checkpoint
    near = entered(spec, msgs, "omg-north")
    assert far and {json.loads(m.payload)["id"] for m in far} == {ESP_ID}
    assert min(abs(a.at - b.at) for a in far for b in near) < 2.0
    assert spec.receiver("esp-far").distance(0, 0) == 300
    assert any("clone" in ln and "esp-far" in ln for ln in lines)


def test_battery_falls_below_2500_mv_in_the_tlm_frames(spec: PatrolSpec) -> None:
    lines: list[str] = []
    msgs = walk(make(spec, "battery:40", tags=(EDDYSTONE,), lines=lines))
    tlm = [(m.at, int(p["servicedata"][4:8], 16)) for m in msgs
           if (p := json.loads(m.payload)).get("servicedata", "").startswith("20")]
    assert tlm and all(mv >= 2500 for at, mv in tlm if at < 39)
    assert any(mv < 2500 for at, mv in tlm if at > 45)
    assert any("battery low" in ln for ln in lines)
    uid = [m for m in msgs if m.receiver == "esp-b1"]
    assert uid and all(json.loads(m.payload)["id"].startswith("eddy:") for m in uid)


def test_silent_receiver_publishes_nothing_after_its_time(spec: PatrolSpec) -> None:
    lines: list[str] = []
    msgs = walk(make(spec, "silent:omg-north@20", lines=lines))
    north = [m.at for m in msgs if m.receiver == "omg-north"]
    assert north and max(north) < 20
    assert any(m.at >= 20 for m in msgs if m.receiver != "omg-north")
    assert "receiver omg-north goes silent" in " ".join(lines)


def test_scenarios_compose(spec: PatrolSpec) -> None:
    msgs = walk(make(spec, "late:30,skip:omg-east", "silent:esp-b1@0"))
    assert min(m.at for m in msgs) >= 32
    assert not entered(spec, msgs, "omg-east")
    assert not [m for m in msgs if m.receiver == "esp-b1"]


def test_same_seed_same_adverts(spec: PatrolSpec) -> None:
    assert walk(make(spec)) == walk(make(spec))


@pytest.mark.parametrize(("scenario", "tags", "route", "says"), [
    ("perfect", (IBEACON,), ("omg-north", "nowhere"), "no receiver 'nowhere'"),
    ("battery", (IBEACON,), ROUTE, "needs an Eddystone tag"),
    ("teleport", (IBEACON,), ROUTE, "unknown patrol scenario"),
    ("skip:esp-far", (IBEACON,), ROUTE, "not on the route"),
    ("late", (IBEACON,), ROUTE, "late needs seconds"),
])
def test_what_does_not_fit_the_site_is_refused(spec: PatrolSpec, scenario: str,
                                               tags: tuple[str, ...], route: tuple[str, ...],
                                               says: str) -> None:
    with pytest.raises(ValueError, match=says):
        make(spec, scenario, tags=tags, route=route)
