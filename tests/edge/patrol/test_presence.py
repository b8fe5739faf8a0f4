"""Presence at the edge: a guard's tag becomes one visit at the checkpoint it dwelt at, from
adverts as receivers report them (calibrated RSSI, noise, lost packets), with time moved by a
FakeClock. Distances turn into RSSI with the log-distance model (path-loss exponent 2)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from contract import FakeClock
from drivers.ble.model import Advert
from edge.config.model import PatrolReceiver
from edge.patrol.presence import Output, PresenceEngine, PresenceSettings, Seen, Visit

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
TAG = "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949"
MAC = "c3:00:00:00:00:07"


def rx(rid: str, x: float = 0.0, y: float = 0.0, at_1m: int = -59) -> PatrolReceiver:
    return PatrolReceiver(id=rid, kind="openmqttgateway", source=rid, rssi_at_1m=at_1m, x=x, y=y)


def rssi_at(metres: float, at_1m: int = -59) -> int:
    return round(at_1m - 20 * math.log10(metres))


class Patrol:
    """Receivers, a FakeClock and the engine; ``second`` plays one second of adverts."""

    def __init__(self, *receivers: PatrolReceiver, settings: PresenceSettings | None = None,
                 seed: int = 7) -> None:
        self.clock = FakeClock(T0)
        self.out: list[Output] = []
        self.rx = {r.id: r for r in receivers}
        self.engine = PresenceEngine(receivers, settings or PresenceSettings(), self.clock,
                                     self.out.append, site="test")
        self.rng = random.Random(seed)

    def hear(self, receiver: str, rssi: int, tag: str | None = TAG, mac: str = MAC,
             battery_mv: int | None = None) -> None:
        self.engine.feed(Advert(receiver=receiver, tag=tag, mac=mac, rssi=rssi, tx_power=-59,
                                battery_mv=battery_mv, at=self.clock.monotonic()))

    def second(self, distances: dict[str, float], *, tag: str = TAG, noise_db: float = 0.0,
               loss: float = 0.0) -> None:
        """One advert per receiver (each lost with probability ``loss``), then one second."""
        for rid, d in distances.items():
            if self.rng.random() < loss:
                continue
            noise = self.rng.gauss(0.0, noise_db) if noise_db else 0.0
            self.hear(rid, round(rssi_at(d, self.rx[rid].rssi_at_1m) + noise), tag=tag)
        self.tick()

    def stay(self, seconds: int, distances: dict[str, float], **kw: float) -> None:
        for _ in range(seconds):
            self.second(distances, **kw)  # type: ignore[arg-type]

    def tick(self, seconds: float = 1.0) -> None:
        self.clock.advance(seconds)
        self.engine.expire()

    def idle(self, seconds: int) -> None:
        for _ in range(seconds):
            self.tick()

    def visits(self) -> list[Visit]:
        return [o for o in self.out if isinstance(o, Visit)]


def test_a_guard_at_2m_for_6s_makes_one_visit_when_the_dwell_is_reached() -> None:
    p = Patrol(rx("cp-gate"))
    p.stay(6, {"cp-gate": 2.0})  # adverts at 0 … 5 s
    p.idle(30)  # walks on
    [v] = p.visits()
    assert (v.tag, v.receiver) == (TAG, "cp-gate")
    assert v.at == T0 + timedelta(seconds=5)  # confirmed when the dwell was reached
    assert v.dwell_s == 5.0
    assert v.rssi == -6 and v.raw_rssi == rssi_at(2.0)  # calibrated: 6 dB below the 1 m reading


def test_walking_past_for_3s_makes_no_visit() -> None:
    p = Patrol(rx("cp-gate"))
    p.stay(3, {"cp-gate": 2.0})
    p.stay(8, {"cp-gate": 25.0})  # still heard, far away
    p.idle(30)
    assert p.visits() == []


def test_standing_there_makes_one_visit_and_coming_back_after_leaving_another() -> None:
    p = Patrol(rx("cp-gate"))
    p.stay(120, {"cp-gate": 1.5})
    assert len(p.visits()) == 1
    p.idle(15)  # gone longer than leave_after_s
    assert p.engine.stats()["present"] == 0
    p.stay(6, {"cp-gate": 1.5})
    assert [v.receiver for v in p.visits()] == ["cp-gate", "cp-gate"]


def test_calibration_lets_a_hot_receiver_and_a_deaf_one_compare_fairly() -> None:
    hot, deaf = rx("hot", at_1m=-50), rx("deaf", x=6.0, at_1m=-70)
    p = Patrol(hot, deaf)
    # 2 m from the deaf one (−76 dBm), 4 m from the hot one (−62 dBm): louder, but farther.
    p.stay(10, {"hot": 4.0, "deaf": 2.0})
    assert [v.receiver for v in p.visits()] == ["deaf"]


def test_noise_around_the_enter_level_does_not_flap() -> None:
    # A guard standing where the mean calibrated RSSI is exactly the enter level (−12 dB),
    # with 4 dB of jitter, for five minutes: one presence, one visit, never left.
    d = 10 ** (12 / 20)
    p = Patrol(rx("cp-gate"), seed=3)
    present: list[int] = []
    for _ in range(300):
        p.second({"cp-gate": d}, noise_db=4.0)
        present.append(p.engine.stats()["present"])
    assert len(p.visits()) == 1
    assert present[-1] == 1 and present.count(0) <= present.index(1)  # once in, never out


def test_thirty_percent_packet_loss_still_makes_exactly_one_visit() -> None:
    for seed in range(20):
        p = Patrol(rx("cp-gate"), seed=seed)
        p.stay(12, {"cp-gate": 2.0}, loss=0.3)
        p.stay(60, {"cp-gate": 2.0}, loss=0.3)  # and staying on does not make a second one
        p.idle(20)
        assert len(p.visits()) == 1, f"seed {seed}: {p.visits()}"


def test_of_two_receivers_hearing_the_tag_the_closer_one_wins() -> None:
    p = Patrol(rx("cp-a"), rx("cp-b", x=5.0))
    p.stay(60, {"cp-a": 1.5, "cp-b": 3.5}, noise_db=2.0)  # both above the enter level
    assert [v.receiver for v in p.visits()] == ["cp-a"]


def test_a_weaker_receiver_that_was_accumulating_starts_its_dwell_again() -> None:
    p = Patrol(rx("cp-a"), rx("cp-b", x=5.0))
    p.stay(4, {"cp-b": 2.0})  # 4 s at B: dwell accumulating
    p.stay(3, {"cp-a": 1.0, "cp-b": 4.0})  # A is stronger: B's dwell is reset
    p.stay(4, {"cp-a": 10.0, "cp-b": 2.0})  # back at B: 8 s there in all, < 5 s since it led
    assert p.visits() == []
    p.stay(6, {"cp-a": 10.0, "cp-b": 2.0})
    [v] = p.visits()
    assert v.receiver == "cp-b" and v.dwell_s == 5.0


def test_walking_a_route_visits_each_checkpoint_in_turn() -> None:
    p = Patrol(rx("cp-a"), rx("cp-b", x=30.0), rx("cp-c", x=60.0))
    x = -10.0
    while x < 70:
        near = {rid: max(0.5, abs(x - r.x)) for rid, r in p.rx.items() if abs(x - r.x) < 25}
        # 8 s standing at each checkpoint, 1.4 m/s between them
        dwell = any(abs(x - r.x) < 0.5 for r in p.rx.values())
        p.stay(8 if dwell else 1, near, noise_db=3.0, loss=0.1)
        x += 1.4 if not dwell else 1.0
    p.idle(30)
    assert [v.receiver for v in p.visits()] == ["cp-a", "cp-b", "cp-c"]


def test_seen_is_sampled_once_per_tag_and_receiver_per_interval() -> None:
    p = Patrol(rx("cp-a"), rx("cp-b", x=5.0))
    p.stay(150, {"cp-a": 2.0, "cp-b": 3.0})
    seen = [o for o in p.out if isinstance(o, Seen)]
    assert [(s.receiver, s.at - T0) for s in seen] == [
        (r, timedelta(seconds=t)) for t in (0, 60, 120) for r in ("cp-a", "cp-b")]
    assert seen[0].rssi == rssi_at(2.0)  # as heard, for the installer


def test_unknown_receivers_and_untagged_frames_are_counted_and_ignored() -> None:
    p = Patrol(rx("cp-a"))
    for _ in range(10):
        p.hear("cp-zz", -40)  # not in the site file
        p.hear("cp-a", -40, tag=None, mac="11:22:33:44:55:66")  # no id, no TLM
        p.tick()
    stats = p.engine.stats()
    assert stats["adverts"] == 20 and stats["unknown_receiver"] == 10
    assert stats["untagged"] == 10 and stats["tags"] == 0 and p.out == []


def test_memory_is_bounded_after_a_thousand_tags_have_left() -> None:
    p = Patrol(rx("cp-a"), rx("cp-b", x=20.0))
    for i in range(1000):
        tag = f"eddystone:00112233445566778899:{i:012x}"
        mac = f"c3:00:00:00:{i // 256:02x}:{i % 256:02x}"
        for _ in range(6):
            p.hear("cp-a" if i % 2 else "cp-b", rssi_at(2.0), tag=tag, mac=mac)
            p.hear("cp-a", rssi_at(30.0), tag=tag, mac=mac)
            p.clock.advance(0.001)
    p.engine.expire()
    full = p.engine.sizes()
    assert full["tags"] == 1000 and full["macs"] == 1000 and full["links"] >= 1000
    assert p.engine.stats()["visits"] == 0  # 6 ms each: nobody dwelt
    p.idle(60)
    assert p.engine.sizes() == dict.fromkeys(full, 0)
    assert p.engine.stats()["tags"] == 0


def test_a_tag_rotating_its_mac_does_not_grow_the_mac_map() -> None:
    p = Patrol(rx("cp-a"))
    for i in range(3000):  # one new MAC a second, for 50 minutes, the tag always there
        p.hear("cp-a", rssi_at(2.0), mac=f"d0:00:00:00:{i // 256:02x}:{i % 256:02x}")
        p.tick()
        assert p.engine.sizes()["macs"] <= 1002
    assert p.engine.sizes()["tags"] == 1 and len(p.visits()) == 1
