"""Cloned tags: one tag heard where no guard could have walked in the time (docs/patrol.md),
and never for a guard walking a route between neighbouring receivers."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from contract import FakeClock
from drivers.ble.model import Advert
from edge.config.model import PatrolReceiver
from edge.patrol.clone import CloneWatch
from edge.patrol.presence import Cloned, Output, PresenceEngine, PresenceSettings, Visit

T0 = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
TAG = "eddystone:00112233445566778899:aabbccddeeff"


def rx(rid: str, x: float, y: float = 0.0) -> PatrolReceiver:
    return PatrolReceiver(id=rid, kind="espresense", source=rid, x=x, y=y)


def rssi_at(metres: float) -> int:
    return round(-59 - 20 * math.log10(max(metres, 0.3)))


class Site:
    def __init__(self, *receivers: PatrolReceiver) -> None:
        self.clock = FakeClock(T0)
        self.out: list[Output] = []
        self.engine = PresenceEngine(receivers, PresenceSettings(), self.clock, self.out.append)

    def hear(self, receiver: str, metres: float, mac: str = "c3:00:00:00:00:01") -> None:
        self.engine.feed(Advert(receiver=receiver, tag=TAG, mac=mac, rssi=rssi_at(metres),
                                tx_power=None, battery_mv=None, at=self.clock.monotonic()))

    def tick(self, seconds: float = 1.0) -> None:
        self.clock.advance(seconds)
        self.engine.expire()

    def cloned(self) -> list[Cloned]:
        return [o for o in self.out if isinstance(o, Cloned)]


def test_200_m_in_3_s_is_a_cloned_tag() -> None:
    s = Site(rx("cp-north", 0.0), rx("cp-south", 0.0, 200.0))
    for _ in range(6):
        s.hear("cp-north", 2.0)
        s.tick()
    s.tick()  # last heard at north at 5 s; then at south, 2 and 3 s later
    s.hear("cp-south", 2.0, mac="c3:00:00:00:00:02")
    s.tick()
    assert s.cloned() == []  # one advert is not evidence (a spike, a reflection)
    s.hear("cp-south", 2.0, mac="c3:00:00:00:00:02")
    [c] = s.cloned()
    assert (c.tag, c.first, c.second) == (TAG, "cp-north", "cp-south")
    assert c.distance_m == 200.0 and c.elapsed_s == 3.0
    assert c.at == T0 + timedelta(seconds=8)


def test_two_tags_with_one_identity_raise_once_per_pair_per_ten_minutes() -> None:
    s = Site(rx("cp-north", 0.0), rx("cp-south", 0.0, 200.0), rx("cp-east", 150.0, 100.0))
    for _ in range(25 * 60):  # the original at north, the copy at south, for 25 minutes
        s.hear("cp-north", 2.0)
        s.hear("cp-south", 2.0, mac="c3:00:00:00:00:02")
        s.tick()
    assert [c.at - T0 for c in s.cloned()] == [timedelta(seconds=1 + 600 * m) for m in range(3)]
    s.hear("cp-east", 2.0)  # a third place is a new pair: raised at once (second advert)
    s.tick()
    s.hear("cp-east", 2.0)
    assert {(c.first, c.second) for c in s.cloned()[3:]} == {("cp-north", "cp-east"),
                                                            ("cp-south", "cp-east")}


def test_a_guard_walking_between_neighbouring_receivers_is_not_a_clone() -> None:
    # Checkpoints 25 m apart along a path; the guard walks at 1.25 m/s, to and fro, stopping
    # 8 s at each, with 5 dB of jitter and 20 % of adverts lost, for an hour.
    cps = [rx(f"cp-{i}", 25.0 * i) for i in range(5)]
    s = Site(*cps)
    rng = random.Random(5)
    x, step, wait = 0.0, 1.25, 0
    for _ in range(3600):
        for r in cps:
            d = abs(x - r.x)
            if d < 30 and rng.random() > 0.2:
                s.engine.feed(Advert(receiver=r.id, tag=TAG, mac="c3:00:00:00:00:01",
                                     rssi=round(rssi_at(d) + rng.gauss(0, 5)), tx_power=None,
                                     battery_mv=None, at=s.clock.monotonic()))
        s.tick()
        if any(abs(x - r.x) < 0.1 for r in cps) and wait < 8:
            wait += 1
            continue
        wait = 0
        x += step
        if x > 100 - 0.1 or x < 0.1:
            x, step = round(x), -step
    assert s.cloned() == []
    visits = [o.receiver for o in s.out if isinstance(o, Visit)]
    assert len(visits) > 40 and set(visits) == {r.id for r in cps}  # it did see the guard walk


def test_the_watch_keeps_evidence_only_as_long_as_a_pair_could_prove_a_clone() -> None:
    w = CloneWatch([rx("a", 0.0), rx("b", 0.0, 130.0), rx("c", 10.0)], max_speed_mps=4.0,
                   range_m=5.0)
    assert w.horizon_s == (math.hypot(10.0, 130.0) - 10.0) / 4.0
    assert w.check(TAG, "b", 100.0, {"a": 69.0}) == []  # 120 m in 31 s: 3.9 m/s, a run
    [s] = w.check(TAG, "b", 100.0, {"a": 73.0})  # in 27 s: no
    assert (s.first, s.second, s.distance_m, s.elapsed_s) == ("a", "b", 130.0, 27.0)
    assert len(w) == 1
    w.expire(100.0 + 600.0)
    assert len(w) == 0
